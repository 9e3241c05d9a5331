package exporter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpjson"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpproto"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// protoCase is a client of one protocol for a collector: grpc or http
// gives its options.
type protoCase struct {
	name string
	grpc func(c *otlptest.Collector) TransportOptions
	http func(c *otlptest.Collector) HTTPOptions
}

// make builds the client, failing t on an error.
func (pc protoCase) make(t *testing.T, c *otlptest.Collector) Client {
	t.Helper()
	var cl Client
	var err error
	if pc.grpc != nil {
		cl, err = NewGRPCClient(pc.grpc(c))
	} else {
		cl, err = NewHTTPClient(pc.http(c))
	}
	if err != nil {
		t.Fatalf("%s client: %v", pc.name, err)
	}
	return cl
}

func protocols() []protoCase {
	type C = otlptest.Collector
	return []protoCase{
		{name: "grpc", grpc: func(c *C) TransportOptions { return TransportOptions{Endpoint: c.GRPCEndpoint(), Insecure: true} }},
		{name: "grpc-gzip", grpc: func(c *C) TransportOptions {
			return TransportOptions{Endpoint: "http://" + c.GRPCEndpoint(), Compression: "gzip"}
		}},
		{name: "http-protobuf", http: func(c *C) HTTPOptions {
			return HTTPOptions{TransportOptions: TransportOptions{Endpoint: c.HTTPURL()}, JSON: boolp(false)}
		}},
		{name: "http-gzip", http: func(c *C) HTTPOptions {
			return HTTPOptions{TransportOptions: TransportOptions{Endpoint: c.HTTPEndpoint(), Insecure: true, Compression: "gzip"}}
		}},
		{name: "http-json", http: func(c *C) HTTPOptions {
			return HTTPOptions{TransportOptions: TransportOptions{Endpoint: c.HTTPURL()}, JSON: boolp(true)}
		}},
	}
}

// TestExportDeliversExactSpans checks, for every protocol, that requests
// never exceed the limit and that the backend receives exactly the spans
// exported, byte for byte.
func TestExportDeliversExactSpans(t *testing.T) {
	for _, pc := range protocols() {
		t.Run(pc.name, func(t *testing.T) {
			col := testkit.StartCollector(t, otlptest.Options{})
			cfg := fastConfig()
			cfg.MaxRequestBytes = 32 << 10
			e := startExporter(t, pc.make(t, col), cfg)
			want := map[[8]byte]*tracepb.Span{}
			tr := e.NewTracker()
			for i := range 3 {
				b := kernelBatch(testResource, i*300, 300)
				for j := range b.Spans {
					want[b.Spans[j].SpanID] = otlpproto.SpanToProto(&b.Spans[j])
				}
				if err := e.Export(ctxT(t), b, tr); err != nil {
					t.Fatal(err)
				}
				b.Spans[0].Name = "reused memory" // the caller may reuse b now
			}
			if err := tr.Wait(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			st := col.Stats()
			if st.MaxBytes > int(cfg.MaxRequestBytes) {
				t.Fatalf("largest request %d bytes > limit %d", st.MaxBytes, cfg.MaxRequestBytes)
			}
			if st.Spans != len(want) || tr.Acked() != int64(len(want)) {
				t.Fatalf("collector got %d spans, tracker acked %d, want %d", st.Spans, tr.Acked(), len(want))
			}
			if st.Requests < 2 {
				t.Fatalf("only %d requests: the limit did not cut", st.Requests)
			}
			for _, r := range col.Requests() {
				for _, rs := range r.ResourceSpans {
					if !proto.Equal(rs.Resource, otlpproto.ToProto(&span.Batch{Resource: testResource}).Resource) {
						t.Fatalf("resource differs: %v", rs.Resource)
					}
					for _, ss := range rs.ScopeSpans {
						if ss.Scope.GetName() != "vllm-otel-bridge" {
							t.Fatalf("scope %v", ss.Scope)
						}
						for _, s := range ss.Spans {
							if !proto.Equal(s, want[[8]byte(s.SpanId)]) {
								t.Fatalf("span differs:\n got %v\nwant %v", s, want[[8]byte(s.SpanId)])
							}
						}
					}
				}
			}
			s := e.Stats()
			if s.SpansExported != int64(len(want)) || s.RequestsExported != int64(st.Requests) || s.Errors != 0 {
				t.Fatalf("stats %+v, collector %+v", s, st)
			}
		})
	}
}

func TestNothingLost100k(t *testing.T) {
	col := testkit.StartCollector(t, otlptest.Options{})
	cl, err := NewGRPCClient(TransportOptions{Endpoint: col.GRPCEndpoint(), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig()
	cfg.MaxRequestBytes = 256 << 10
	e := startExporter(t, cl, cfg)
	const total, per = 100_000, 2_500
	var trackers []*Tracker
	for i := 0; i < total; i += per {
		tr := e.NewTracker()
		if err := e.Export(ctxT(t), lightBatch(i, per), tr); err != nil {
			t.Fatal(err)
		}
		tr.Close()
		trackers = append(trackers, tr)
	}
	for i, tr := range trackers {
		if err := tr.Wait(ctxT(t)); err != nil {
			t.Fatalf("tracker %d: %v", i, err)
		}
		if tr.Acked() != per {
			t.Fatalf("tracker %d acked %d of %d", i, tr.Acked(), per)
		}
	}
	ids := spanIDs(col.Requests())
	if len(ids) != total {
		t.Fatalf("%d distinct spans received, want %d", len(ids), total)
	}
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("span %x received %d times", id, n)
		}
	}
	if m := col.Stats().MaxBytes; m > int(cfg.MaxRequestBytes) {
		t.Fatalf("request of %d bytes > %d", m, cfg.MaxRequestBytes)
	}
}

// failure is a backend answer and whether the exporter must treat it as
// permanent (fail the tracker) or transient (retry).
type failure struct {
	name      string
	proto     string
	fail      otlptest.Failure
	permanent bool
}

func failures() []failure {
	return []failure{
		{"grpc-unavailable", "grpc", otlptest.Failure{Code: codes.Unavailable}, false},
		{"grpc-exhausted", "grpc", otlptest.Failure{Code: codes.ResourceExhausted}, false},
		{"grpc-aborted", "grpc", otlptest.Failure{Code: codes.Aborted}, false},
		{"http-503", "http-protobuf", otlptest.Failure{HTTPStatus: 503}, false},
		{"http-429", "http-protobuf", otlptest.Failure{HTTPStatus: 429}, false},
		{"http-502", "http-json", otlptest.Failure{HTTPStatus: 502}, false},
		{"grpc-invalid-argument", "grpc", otlptest.Failure{Code: codes.InvalidArgument}, true},
		{"grpc-unauthenticated", "grpc", otlptest.Failure{Code: codes.Unauthenticated}, true},
		{"http-400", "http-protobuf", otlptest.Failure{HTTPStatus: 400}, true},
		{"http-401", "http-json", otlptest.Failure{HTTPStatus: 401}, true},
	}
}

// failingExporter is an exporter over proto to a collector whose next n
// requests get fail.
func failingExporter(t *testing.T, proto string, n int, fail otlptest.Failure) (*otlptest.Collector, *Exporter) {
	t.Helper()
	col := testkit.StartCollector(t, otlptest.Options{})
	col.FailNext(n, fail)
	return col, startExporter(t, clientFor(t, proto, col), fastConfig())
}

func TestRetryThenDeliver(t *testing.T) {
	for _, tc := range failures() {
		if tc.permanent {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			col, e := failingExporter(t, tc.proto, 3, tc.fail)
			tr := e.NewTracker()
			if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 100), tr); err != nil {
				t.Fatal(err)
			}
			if err := tr.Wait(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if s := e.Stats(); s.Retries != 3 || s.SpansExported != 100 || s.Errors != 0 {
				t.Fatalf("stats %+v", s)
			}
			if st := col.Stats(); st.Failed != 3 || st.Spans != 100 {
				t.Fatalf("collector %+v", st)
			}
		})
	}
}

func clientFor(t *testing.T, name string, col *otlptest.Collector) Client {
	for _, pc := range protocols() {
		if pc.name == name {
			return pc.make(t, col)
		}
	}
	t.Fatalf("no protocol %s", name)
	return nil
}

func TestPermanentErrorFailsTracker(t *testing.T) {
	for _, tc := range failures() {
		if !tc.permanent {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			_, e := failingExporter(t, tc.proto, 1, tc.fail)
			bad, good := e.NewTracker(), e.NewTracker()
			if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 10), bad); err != nil {
				t.Fatal(err)
			}
			err := bad.Wait(ctxT(t))
			var ee *ExportError
			if !errors.Is(err, ErrPermanent) || !errors.As(err, &ee) || ee.Spans != 10 || ee.Attempts != 1 {
				t.Fatalf("Wait = %v, want a permanent *ExportError for 10 spans", err)
			}
			// The exporter goes on with other work.
			if err := e.Export(ctxT(t), kernelBatch(testResource, 10, 10), good); err != nil {
				t.Fatal(err)
			}
			if err := good.Wait(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if s := e.Stats(); s.Errors != 1 || s.SpansFailed != 10 || s.SpansExported != 10 || s.Retries != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	col := testkit.StartCollector(t, otlptest.Options{})
	col.FailNext(1000, otlptest.Failure{Code: codes.Unavailable})
	cfg := fastConfig()
	cfg.Retry.MaxElapsedTime = 100 * time.Millisecond
	e := startExporter(t, clientFor(t, "grpc", col), cfg)
	tr := e.NewTracker()
	if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 10), tr); err != nil {
		t.Fatal(err)
	}
	if err := tr.Wait(ctxT(t)); !errors.Is(err, ErrRetriesExhausted) {
		t.Fatalf("Wait = %v, want ErrRetriesExhausted", err)
	}
}

func TestPartialSuccessCounted(t *testing.T) {
	for _, p := range []string{"grpc", "http-protobuf"} {
		t.Run(p, func(t *testing.T) {
			col := testkit.StartCollector(t, otlptest.Options{})
			col.PartialSuccessNext(1, 7, "7 spans too old")
			e := startExporter(t, clientFor(t, p, col), fastConfig())
			tr := e.NewTracker()
			if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 20), tr); err != nil {
				t.Fatal(err)
			}
			if err := tr.Wait(ctxT(t)); err != nil {
				t.Fatalf("partial success must not fail the tracker: %v", err)
			}
			if s := e.Stats(); s.RejectedSpans != 7 || s.Retries != 0 || s.Errors != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestThrottleHints pins how the OTel clients expose server throttling:
// gRPC RetryInfo and HTTP Retry-After reach Classify.
func TestThrottleHints(t *testing.T) {
	for _, p := range []string{"grpc", "http-protobuf"} {
		t.Run(p, func(t *testing.T) {
			col := testkit.StartCollector(t, otlptest.Options{})
			col.FailNext(1, otlptest.Failure{Code: codes.ResourceExhausted, HTTPStatus: 429, RetryAfter: 3 * time.Second})
			cl := clientFor(t, p, col)
			if err := cl.Start(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			defer cl.Stop(context.Background())
			err := cl.UploadTraces(ctxT(t), []*tracepb.ResourceSpans{otlpproto.ToProto(kernelBatch(testResource, 0, 1))})
			retry, d := Classify(err)
			if !retry || d != 3*time.Second {
				t.Fatalf("Classify(%v) = %v, %v; want true, 3s", err, retry, d)
			}
		})
	}
}

func TestTooLargeSpanIsPermanent(t *testing.T) {
	for _, p := range []string{"grpc", "http-protobuf"} {
		t.Run(p, func(t *testing.T) {
			col := testkit.StartCollector(t, otlptest.Options{MaxRecvBytes: 64 << 10})
			cfg := fastConfig()
			cfg.MaxRequestBytes = 16 << 10
			e := startExporter(t, clientFor(t, p, col), cfg)
			b := kernelBatch(testResource, 0, 3)
			big := make([]byte, 100<<10)
			for i := range big {
				big[i] = 'a' + byte(i%26)
			}
			b.Spans[1].Attrs = append(b.Spans[1].Attrs, span.String("huge", string(big)))
			tr := e.NewTracker()
			if err := e.Export(ctxT(t), b, tr); err != nil {
				t.Fatal(err)
			}
			if err := tr.Wait(ctxT(t)); !errors.Is(err, ErrPermanent) {
				t.Fatalf("Wait = %v, want ErrPermanent", err)
			}
			// Wait returns at the first failure; let the other requests finish.
			if err := e.Shutdown(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			s := e.Stats()
			if s.OversizeSpans != 1 || s.SpansExported != 2 || s.SpansFailed != 1 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestBackpressureWhileDown: with the backend down, Export blocks once
// MaxInFlight requests are being retried and QueueSize more are waiting, so
// memory stays bounded; when it comes back everything is delivered.
func TestBackpressureWhileDown(t *testing.T) {
	col := testkit.StartCollector(t, otlptest.Options{})
	cfg := senders(16<<10, 2, 2)
	e := startExporter(t, clientFor(t, "http-protobuf", col), cfg)
	col.Down()

	const batches, per = 100, 50 // each batch is more than one request
	var exported atomic.Int64
	tr := e.NewTracker()
	done := make(chan error, 1)
	go func() {
		for i := range batches {
			if err := e.Export(context.Background(), kernelBatch(testResource, i*per, per), tr); err != nil {
				done <- err
				return
			}
			exported.Add(1)
		}
		done <- nil
	}()
	// Wait until the producer is stuck: no progress over several retry rounds.
	var last int64 = -1
	for stable := 0; stable < 5; {
		time.Sleep(100 * time.Millisecond)
		n := exported.Load()
		if n == last {
			stable++
		} else {
			stable = 0
		}
		last = n
	}
	s := e.Stats()
	if s.InFlight > int64(cfg.MaxInFlight) || s.Queued > int64(cfg.QueueSize) {
		t.Fatalf("in flight %d, queued %d exceed the bounds", s.InFlight, s.Queued)
	}
	spanBytes := otlpproto.EntrySize(otlpproto.SpanSize(&kernelBatch(testResource, 0, 1).Spans[0]))
	perRequest := int(cfg.MaxRequestBytes) / spanBytes
	held := int(last) * per
	if maxHeld := (cfg.MaxInFlight + cfg.QueueSize + 1) * (perRequest + 1); held > maxHeld+per {
		t.Fatalf("%d spans accepted while down, bound is %d", held, maxHeld+per)
	}
	if s.Retries == 0 || s.SpansExported != 0 {
		t.Fatalf("stats while down %+v", s)
	}
	if err := col.Up(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := tr.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if ids := spanIDs(col.Requests()); len(ids) != batches*per {
		t.Fatalf("%d spans delivered, want %d", len(ids), batches*per)
	}
}

func TestShutdownDeadlineFailsTrackers(t *testing.T) {
	col := testkit.StartCollector(t, otlptest.Options{})
	col.Down()
	e := New(clientFor(t, "http-protobuf", col), fastConfig(), testLogger(t))
	if err := e.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	tr := e.NewTracker()
	if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 10), tr); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown with the backend down reported success")
	}
	if err := tr.Wait(ctxT(t)); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Wait = %v, want ErrShutdown", err)
	}
	if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 1), nil); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Export after Shutdown = %v", err)
	}
	if s := e.Stats(); s.SpansFailed != 10 || s.Errors != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestShutdownFlushes(t *testing.T) {
	col := testkit.StartCollector(t, otlptest.Options{})
	e := New(clientFor(t, "grpc", col), DefaultConfig(), testLogger(t))
	if err := e.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 10), nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if st := col.Stats(); st.Spans != 10 {
		t.Fatalf("collector got %d spans after Shutdown", st.Spans)
	}
	if err := e.Shutdown(ctxT(t)); !errors.Is(err, ErrShutdown) {
		t.Fatalf("second Shutdown = %v", err)
	}
}

func TestFlushIntervalSendsTrickle(t *testing.T) {
	col := testkit.StartCollector(t, otlptest.Options{})
	e := startExporter(t, clientFor(t, "grpc", col), fastConfig())
	if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 3), nil); err != nil {
		t.Fatal(err)
	}
	if err := col.WaitSpans(ctxT(t), 3); err != nil {
		t.Fatal(err)
	}
}

func TestLifecycleErrors(t *testing.T) {
	e := New(&DiscardClient{}, DefaultConfig(), nil)
	if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 1), nil); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Export before Start = %v", err)
	}
	if err := e.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	tr := e.NewTracker()
	tr.Close()
	if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 1), tr); !errors.Is(err, ErrTrackerClosed) {
		t.Fatalf("Export with closed tracker = %v", err)
	}
	if err := tr.Wait(ctxT(t)); err != nil {
		t.Fatalf("Wait on an empty tracker = %v", err)
	}
	other := New(&DiscardClient{}, DefaultConfig(), nil)
	if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 1), other.NewTracker()); err == nil {
		t.Fatal("a tracker of another exporter was accepted")
	}
	// A cancelled context while waiting for room fails the export and its tracker.
	if err := e.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestExportRawKeepsEverything(t *testing.T) {
	col := testkit.StartCollector(t, otlptest.Options{})
	e := startExporter(t, clientFor(t, "grpc", col), fastConfig())
	in, err := otlpjson.Unmarshal(mustRead(t, "testdata/forwarded.json"))
	if err != nil {
		t.Fatal(err)
	}
	tr := e.NewTracker()
	if err := e.ExportRaw(ctxT(t), in.ResourceSpans, tr); err != nil {
		t.Fatal(err)
	}
	if err := tr.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	got := &coltracepb.ExportTraceServiceRequest{}
	for _, r := range col.Requests() {
		got.ResourceSpans = append(got.ResourceSpans, r.ResourceSpans...)
	}
	// Each ScopeSpans becomes its own ResourceSpans; regroup the input the same way.
	want := &coltracepb.ExportTraceServiceRequest{}
	for _, rs := range in.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			want.ResourceSpans = append(want.ResourceSpans, &tracepb.ResourceSpans{Resource: rs.Resource, SchemaUrl: rs.SchemaUrl, ScopeSpans: []*tracepb.ScopeSpans{ss}})
		}
	}
	if !proto.Equal(got, want) {
		t.Fatalf("forwarded spans changed:\n got %v\nwant %v", got, want)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFileClientWritesJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	cl, err := NewClientFor(SinkConfig{Protocol: ProtocolFile, Path: path}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fastConfig()
	cfg.MaxRequestBytes = 32 << 10
	e := New(cl, cfg, testLogger(t))
	if err := e.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	tr := e.NewTracker()
	b := kernelBatch(testResource, 0, 500)
	if err := e.Export(ctxT(t), b, tr); err != nil {
		t.Fatal(err)
	}
	if err := tr.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	reqs := shutdownAndRead(t, e, path, otlpjson.ReadJSONLines)
	if int64(len(reqs)) != e.Stats().RequestsExported || len(reqs) < 2 {
		t.Fatalf("%d lines for %d requests", len(reqs), e.Stats().RequestsExported)
	}
	ids := spanIDs(reqs)
	for i := range b.Spans {
		if ids[b.Spans[i].SpanID] != 1 {
			t.Fatalf("span %d appears %d times", i, ids[b.Spans[i].SpanID])
		}
	}
}

// TestEnvironmentHonoured: with no options set, the standard variables
// decide; a set option wins over them.
func TestEnvironmentHonoured(t *testing.T) {
	col := testkit.StartCollector(t, otlptest.Options{})
	dead := "127.0.0.1:1" // nothing listens there
	tests := []struct {
		name     string
		env      map[string]string
		sink     SinkConfig
		wantJSON bool
		grpc     bool
	}{
		{"grpc-traces-endpoint", map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://" + col.GRPCEndpoint(),
			"OTEL_EXPORTER_OTLP_TRACES_HEADERS":  "x-tenant=acme",
		}, SinkConfig{Protocol: ProtocolGRPC}, false, true},
		{"grpc-generic-endpoint", map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + col.GRPCEndpoint(),
			"OTEL_EXPORTER_OTLP_HEADERS":  "x-tenant=acme",
		}, SinkConfig{Protocol: ProtocolGRPC}, false, true},
		{"http-protocol-from-env", map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": col.HTTPURL(),
			"OTEL_EXPORTER_OTLP_HEADERS":         "x-tenant=acme",
		}, SinkConfig{}, false, false},
		{"http-json-from-env", map[string]string{
			"OTEL_EXPORTER_OTLP_PROTOCOL":       "http/json",
			"OTEL_EXPORTER_OTLP_ENDPOINT":       "http://" + col.HTTPEndpoint(),
			"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-tenant=acme",
			"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "5000",
		}, SinkConfig{}, true, false},
		{"option-beats-env", map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://" + dead,
			"OTEL_EXPORTER_OTLP_HEADERS":         "x-tenant=env",
		}, SinkConfig{Protocol: ProtocolGRPC, Transport: TransportOptions{
			Endpoint: "http://" + col.GRPCEndpoint(), Headers: map[string]string{"x-tenant": "acme"},
		}}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			before := col.Stats()
			cl, err := NewClientFor(tc.sink, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			e := startExporter(t, cl, fastConfig())
			tr := e.NewTracker()
			if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 5), tr); err != nil {
				t.Fatal(err)
			}
			if err := tr.Wait(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			after := col.Stats()
			if tc.grpc && after.GRPCRequests == before.GRPCRequests || !tc.grpc && after.HTTPRequests == before.HTTPRequests {
				t.Fatalf("request did not arrive on the expected protocol: %+v", after)
			}
			h := col.LastHeaders()
			if got := first(h, "x-tenant", "X-Tenant"); got != "acme" {
				t.Fatalf("x-tenant header = %q", got)
			}
			if gotJSON := first(h, "X-Otlptest-Json") == "true"; gotJSON != tc.wantJSON {
				t.Fatalf("JSON = %v, want %v", gotJSON, tc.wantJSON)
			}
		})
	}
}

func first(h map[string][]string, keys ...string) string {
	for _, k := range keys {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err      error
		retry    bool
		throttle time.Duration
	}{
		{nil, false, 0},
		{errors.New("boom"), false, 0},
		{&RetryableError{Err: errors.New("x"), Throttle: time.Second}, true, time.Second},
		{fmt.Errorf("wrapped: %w", &RetryableError{Err: errors.New("x")}), true, 0},
		{context.DeadlineExceeded, true, 0},
		{context.Canceled, false, 0},
	}
	for _, tc := range tests {
		r, d := Classify(tc.err)
		if r != tc.retry || d != tc.throttle {
			t.Errorf("Classify(%v) = %v, %v; want %v, %v", tc.err, r, d, tc.retry, tc.throttle)
		}
	}
}

func TestSinksList(t *testing.T) {
	want := []string{ProtocolDiscard, ProtocolFile, ProtocolGRPC, ProtocolHTTPJSON, ProtocolHTTPProtobuf}
	s := Sinks()
	if len(s) != len(want) {
		t.Fatalf("%d sinks, want %d", len(s), len(want))
	}
	for _, k := range want {
		if s[k] == nil {
			t.Fatalf("sink %s missing", k)
		}
	}
	var ce *ConfigError
	if _, err := NewClientFor(SinkConfig{Protocol: "carrier-pigeon"}, nil, nil); !errors.As(err, &ce) || ce.Key != "protocol" {
		t.Fatalf("unknown protocol: %v", err)
	}
	if _, err := NewClientFor(SinkConfig{Protocol: ProtocolFile}, nil, nil); !errors.As(err, &ce) || ce.Key != "path" {
		t.Fatalf("file without path: %v", err)
	}
	boom := errors.New("boom")
	sinks := Sinks()
	sinks[ProtocolGRPC] = func(SinkConfig) (Client, error) { return nil, boom }
	if _, err := NewClientFor(SinkConfig{Protocol: ProtocolGRPC}, sinks, nil); !errors.Is(err, boom) {
		t.Fatalf("builder error not returned: %v", err)
	}
	getenv := func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_PROTOCOL" {
			return "discard"
		}
		return ""
	}
	if cl, err := NewClientFor(SinkConfig{}, nil, getenv); err != nil {
		t.Fatal(err)
	} else if _, ok := cl.(*DiscardClient); !ok {
		t.Fatalf("protocol from getenv not used: %T", cl)
	}
}

// TestExportErrorFailsTracker: a refused Export makes Wait report failure
// even though the tracker's other spans were delivered.
func TestExportErrorFailsTracker(t *testing.T) {
	col := testkit.StartCollector(t, otlptest.Options{})
	e := New(clientFor(t, "grpc", col), fastConfig(), testLogger(t))
	tr := e.NewTracker()
	if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 1), tr); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Export before Start = %v", err)
	}
	if err := e.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ctxT(t), kernelBatch(testResource, 1, 1), tr); err != nil {
		t.Fatal(err)
	}
	if err := tr.Wait(ctxT(t)); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Wait = %v, want the refused Export's error", err)
	}
	if err := e.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if col.Stats().Spans != 1 {
		t.Fatalf("collector got %d spans", col.Stats().Spans)
	}
}
