package receiver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/bytesize"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

func TestForwardGRPC(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []grpc.CallOption
	}{
		{"plain", nil},
		{"gzip", []grpc.CallOption{grpc.UseCompressor(gzip.Name)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink()
			r := startReceiver(t, testConfig(), s)
			want := makeRequest(1, 20)
			resp, err := grpcClient(t, r.Addrs().GRPC).Export(context.Background(), want, tc.opts...)
			if err != nil {
				t.Fatalf("Export: %v", err)
			}
			if resp.GetPartialSuccess().GetRejectedSpans() != 0 {
				t.Errorf("partial success %v", resp.GetPartialSuccess())
			}
			got := s.requests()
			if len(got) != 1 || !proto.Equal(got[0], want) {
				t.Fatalf("consumer got %d requests, or not what was sent", len(got))
			}
			st := r.Stats()
			if st.Requests != 1 || st.Spans != 20 || st.Bytes != int64(proto.Size(want)) || st.PendingBytes != 0 || st.Errors() != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestForwardHTTP(t *testing.T) {
	want := makeRequest(2, 20)
	pb := mustMarshal(t, want)
	js := encodeJSON(t, want)
	tests := []struct {
		name        string
		body        []byte
		contentType string
		gzip        bool
	}{
		{"protobuf", pb, "application/x-protobuf", false},
		{"protobuf gzip", pb, "application/x-protobuf", true},
		{"json", js, "application/json", false},
		{"json gzip", js, "application/json", true},
		{"json with charset", js, "application/json; charset=utf-8", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink()
			r := startReceiver(t, testConfig(), s)
			body := tc.body
			headers := map[string]string{"Content-Type": tc.contentType}
			if tc.gzip {
				body = testkit.Gzip(t, body)
				headers["Content-Encoding"] = "gzip"
			}
			res := postHTTP(t, http.DefaultClient, "http://"+r.Addrs().HTTP+HTTPTracesPath, body, headers)
			if res.code != http.StatusOK {
				t.Fatalf("status %d: %s", res.code, res.body)
			}
			wantCT, _, _ := strings.Cut(tc.contentType, ";")
			if res.contentType != wantCT {
				t.Errorf("response Content-Type %q, want %q", res.contentType, wantCT)
			}
			var resp collectortrace.ExportTraceServiceResponse
			if err := unmarshalAs(wantCT, res.body, &resp); err != nil {
				t.Errorf("response body %q: %v", res.body, err)
			}
			got := s.requests()
			if len(got) != 1 || !proto.Equal(got[0], want) {
				t.Fatalf("consumer got %d requests, or not what was sent", len(got))
			}
			if st := r.Stats(); st.Requests != 1 || st.Spans != 20 || st.Bytes != int64(len(tc.body)) || st.PendingBytes != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestFixtureJSONEqualsProtobuf posts vLLM's real OTLP/JSON over HTTP, then
// the same spans as protobuf over gRPC, and expects the consumer to see the
// same message twice.
func TestFixtureJSONEqualsProtobuf(t *testing.T) {
	js := readFixture(t, "llm_request.otlp.json")
	s := newSink()
	r := startReceiver(t, testConfig(), s)
	res := postHTTP(t, http.DefaultClient, "http://"+r.Addrs().HTTP+HTTPTracesPath, js, map[string]string{"Content-Type": "application/json"})
	if res.code != http.StatusOK {
		t.Fatalf("status %d: %s", res.code, res.body)
	}
	fromJSON := s.requests()[0]
	// Re-encode independently of the receiver: protobuf bytes of what the
	// JSON decoded to, sent through gRPC's ordinary client codec.
	if _, err := grpcClient(t, r.Addrs().GRPC).Export(context.Background(), proto.Clone(fromJSON).(*collectortrace.ExportTraceServiceRequest)); err != nil {
		t.Fatal(err)
	}
	got := s.requests()
	if len(got) != 2 || !proto.Equal(got[0], got[1]) {
		t.Fatal("JSON and protobuf deliveries differ")
	}
	n := 0
	for _, rs := range got[1].ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				if sp.Name == "llm_request" {
					n++
				}
			}
		}
	}
	if n != 56 {
		t.Errorf("%d llm_request spans, want 56", n)
	}
}

func unmarshalAs(contentType string, b []byte, m proto.Message) error {
	if contentType == "application/json" {
		return protojson.Unmarshal(b, m)
	}
	return proto.Unmarshal(b, m)
}

func TestDefaultsBindLoopback(t *testing.T) {
	c := DefaultConfig()
	if !isLoopback(c.GRPCAddr) || !isLoopback(c.HTTPAddr) {
		t.Fatalf("default addresses %q, %q are not loopback", c.GRPCAddr, c.HTTPAddr)
	}
	if !c.TLS.IsZero() {
		t.Error("TLS on by default")
	}
	for addr, want := range map[string]bool{
		"127.0.0.1:4317": true, "[::1]:4317": true, "localhost:1": true, "127.9.9.9:1": true,
		":4317": false, "0.0.0.0:4317": false, "[::]:4317": false, "10.0.0.1:4317": false, "bad": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
	// Port 0 stays on loopback once bound.
	r := startReceiver(t, testConfig(), newSink())
	for _, a := range []string{r.Addrs().GRPC, r.Addrs().HTTP} {
		if !isLoopback(a) {
			t.Errorf("bound %q, not loopback", a)
		}
	}
}

// rawCodec lets a gRPC client send arbitrary bytes as the request.
type rawCodec struct{}

type rawBytes []byte

func (rawCodec) Name() string { return "proto" }
func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*rawBytes))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return proto.Unmarshal(data.Materialize(), v.(proto.Message))
}

func exportRaw(t *testing.T, addr string, b []byte) error {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecureCreds()), grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	raw := rawBytes(b)
	return cc.Invoke(context.Background(), collectortrace.TraceService_Export_FullMethodName, &raw, new(collectortrace.ExportTraceServiceResponse))
}

// retryDelay returns the RetryInfo delay in a gRPC error, or -1.
func retryDelay(err error) time.Duration {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return -1
}

func TestGRPCErrors(t *testing.T) {
	small := testConfig()
	small.MaxRecvMessageBytes = 1 << 10
	small.MaxPendingBytes = 1 << 10
	badID := makeRequest(1, 1)
	badID.ResourceSpans[0].ScopeSpans[0].Spans[0].SpanId = []byte{1, 2, 3}
	tests := []struct {
		name      string
		cfg       Config
		fail      error
		send      func(*testing.T, string) error
		wantCode  codes.Code
		wantRetry bool
		wantStat  func(Stats) int64
	}{
		{name: "too large", cfg: small, wantCode: codes.ResourceExhausted, wantStat: func(s Stats) int64 { return s.RefusedTooLarge },
			send: func(t *testing.T, a string) error {
				_, err := grpcClient(t, a).Export(context.Background(), makeRequest(1, 50))
				return err
			}},
		{name: "too large gzip", cfg: small, wantCode: codes.ResourceExhausted, wantStat: func(s Stats) int64 { return s.RefusedTooLarge },
			send: func(t *testing.T, a string) error {
				_, err := grpcClient(t, a).Export(context.Background(), makeRequest(1, 50), grpc.UseCompressor(gzip.Name))
				return err
			}},
		{name: "garbage", cfg: testConfig(), wantCode: codes.InvalidArgument, wantStat: func(s Stats) int64 { return s.Malformed },
			send: func(t *testing.T, a string) error { return exportRaw(t, a, []byte{0xff, 0xff, 0xff}) }},
		{name: "bad span id", cfg: testConfig(), wantCode: codes.InvalidArgument, wantStat: func(s Stats) int64 { return s.Malformed },
			send: func(t *testing.T, a string) error {
				_, err := grpcClient(t, a).Export(context.Background(), badID)
				return err
			}},
		{name: "consumer error", cfg: testConfig(), fail: errBoom, wantCode: codes.Unavailable, wantRetry: true,
			wantStat: func(s Stats) int64 { return s.ConsumerErrors },
			send: func(t *testing.T, a string) error {
				_, err := grpcClient(t, a).Export(context.Background(), makeRequest(1, 1))
				return err
			}},
		{name: "permanent consumer error", cfg: testConfig(), fail: NewPermanentError(errBoom), wantCode: codes.InvalidArgument,
			wantStat: func(s Stats) int64 { return s.ConsumerErrors },
			send: func(t *testing.T, a string) error {
				_, err := grpcClient(t, a).Export(context.Background(), makeRequest(1, 1))
				return err
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := failingSink(tc.fail)
			r := startReceiver(t, tc.cfg, s)
			err := tc.send(t, r.Addrs().GRPC)
			if got := status.Code(err); got != tc.wantCode {
				t.Fatalf("code %v (%v), want %v", got, err, tc.wantCode)
			}
			if d := retryDelay(err); (d >= 0) != tc.wantRetry || (tc.wantRetry && d != DefaultRetryAfter) {
				t.Errorf("RetryInfo delay %v, want retryable=%v with %v", d, tc.wantRetry, DefaultRetryAfter)
			}
			st := r.Stats()
			if tc.wantStat(st) != 1 || st.Requests != 0 || st.PendingBytes != 0 {
				t.Errorf("stats %+v", st)
			}
			if len(s.requests()) != 0 {
				t.Error("refused request reached the consumer's store")
			}
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	small := testConfig()
	small.MaxRecvMessageBytes = 1 << 10
	small.MaxPendingBytes = 1 << 10
	big := mustMarshal(t, makeRequest(1, 50))
	good := mustMarshal(t, makeRequest(1, 1))
	pbHdr := map[string]string{"Content-Type": "application/x-protobuf"}
	jsHdr := map[string]string{"Content-Type": "application/json"}
	gzHdr := map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
	tests := []struct {
		name       string
		cfg        Config
		fail       error
		method     string
		path       string
		body       []byte
		headers    map[string]string
		wantCode   int
		wantGRPC   codes.Code // in the Status body; OK means no body check
		wantJSON   bool       // Status body in JSON
		wantRetry  bool
		wantStat   func(Stats) int64
		noConsumer bool
	}{
		{name: "too large", cfg: small, body: big, headers: pbHdr, wantCode: 413, wantGRPC: codes.ResourceExhausted, wantStat: func(s Stats) int64 { return s.RefusedTooLarge }},
		{name: "too large after gunzip", cfg: small, body: testkit.Gzip(t, make([]byte, 4<<10)), headers: gzHdr, wantCode: 413, wantGRPC: codes.ResourceExhausted, wantStat: func(s Stats) int64 { return s.RefusedTooLarge }},
		{name: "garbage protobuf", cfg: testConfig(), body: []byte{0xff, 0xff}, headers: pbHdr, wantCode: 400, wantGRPC: codes.InvalidArgument, wantStat: func(s Stats) int64 { return s.Malformed }},
		{name: "bad json", cfg: testConfig(), body: []byte(`{"resourceSpans":[`), headers: jsHdr, wantCode: 400, wantGRPC: codes.InvalidArgument, wantJSON: true, wantStat: func(s Stats) int64 { return s.Malformed }},
		{name: "bad gzip header", cfg: testConfig(), body: good, headers: gzHdr, wantCode: 400, wantGRPC: codes.InvalidArgument, wantStat: func(s Stats) int64 { return s.Malformed }},
		{name: "truncated gzip", cfg: testConfig(), body: testkit.Gzip(t, good)[:30], headers: gzHdr, wantCode: 400, wantGRPC: codes.InvalidArgument, wantStat: func(s Stats) int64 { return s.Malformed }},
		{name: "GET", cfg: testConfig(), method: http.MethodGet, headers: pbHdr, wantCode: 405, wantStat: func(s Stats) int64 { return s.Malformed }},
		{name: "text/plain", cfg: testConfig(), body: good, headers: map[string]string{"Content-Type": "text/plain"}, wantCode: 415, wantStat: func(s Stats) int64 { return s.Malformed }},
		{name: "no content type", cfg: testConfig(), body: good, wantCode: 415, wantStat: func(s Stats) int64 { return s.Malformed }},
		{name: "brotli", cfg: testConfig(), body: good, headers: map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": "br"}, wantCode: 415, wantStat: func(s Stats) int64 { return s.Malformed }},
		{name: "wrong path", cfg: testConfig(), path: "/v1/metrics", body: good, headers: pbHdr, wantCode: 404, wantStat: func(Stats) int64 { return 1 }},
		{name: "consumer error", cfg: testConfig(), fail: errBoom, body: good, headers: pbHdr, wantCode: 503, wantGRPC: codes.Unavailable, wantRetry: true, wantStat: func(s Stats) int64 { return s.ConsumerErrors }},
		{name: "consumer error json", cfg: testConfig(), fail: errBoom, body: encodeJSON(t, makeRequest(1, 1)), headers: jsHdr, wantCode: 503, wantGRPC: codes.Unavailable, wantJSON: true, wantRetry: true, wantStat: func(s Stats) int64 { return s.ConsumerErrors }},
		{name: "permanent consumer error", cfg: testConfig(), fail: NewPermanentError(errBoom), body: good, headers: pbHdr, wantCode: 400, wantGRPC: codes.InvalidArgument, wantStat: func(s Stats) int64 { return s.ConsumerErrors }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := failingSink(tc.fail)
			r := startReceiver(t, tc.cfg, s)
			method, path := cmpOr(tc.method, http.MethodPost), cmpOr(tc.path, HTTPTracesPath)
			req, err := http.NewRequest(method, "http://"+r.Addrs().HTTP+path, strings.NewReader(string(tc.body)))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body strings.Builder
			_, _ = fmt.Fprint(&body, readAll(t, resp))
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body.String(), tc.wantCode)
			}
			if got := resp.Header.Get("Retry-After"); (got != "") != tc.wantRetry || (tc.wantRetry && got != "1") {
				t.Errorf("Retry-After %q, want retryable=%v", got, tc.wantRetry)
			}
			if tc.wantGRPC != codes.OK {
				var st spb.Status
				ct := "application/x-protobuf"
				if tc.wantJSON {
					ct = "application/json"
				}
				if resp.Header.Get("Content-Type") != ct {
					t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), ct)
				}
				if err := unmarshalAs(ct, []byte(body.String()), &st); err != nil {
					t.Fatalf("Status body: %v", err)
				}
				if codes.Code(st.Code) != tc.wantGRPC || st.Message == "" {
					t.Errorf("Status %v, want code %v with a message", &st, tc.wantGRPC)
				}
			}
			st := r.Stats()
			if tc.wantStat(st) != 1 || st.Requests != 0 || st.PendingBytes != 0 {
				t.Errorf("stats %+v", st)
			}
			if len(s.requests()) != 0 {
				t.Error("refused request reached the consumer's store")
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

// TestOverload fills MaxPendingBytes with a request the consumer holds, and
// expects the next one to be refused as retryable on both transports, then
// accepted once the first is acknowledged.
func TestOverload(t *testing.T) {
	req := makeRequest(5, 10)
	size := int64(proto.Size(req))
	cfg := testConfig()
	cfg.MaxRecvMessageBytes = bytesize.ByteSize(size)
	cfg.MaxPendingBytes = bytesize.ByteSize(size + size/2) // room for one request, not two
	cfg.RetryAfter = 1500 * time.Millisecond
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var calls atomic.Int64
	c := ConsumerFunc(func(ctx context.Context, _ []*tracepb.ResourceSpans) error {
		if calls.Add(1) == 1 {
			entered <- struct{}{}
			<-release
		}
		return nil
	})
	r := startReceiver(t, cfg, c)
	client := grpcClient(t, r.Addrs().GRPC)
	first := make(chan error, 1)
	go func() { _, err := client.Export(context.Background(), req); first <- err }()
	<-entered
	if st := r.Stats(); st.PendingBytes != size {
		t.Fatalf("pending %d while the consumer holds a %d-byte request", st.PendingBytes, size)
	}

	_, err := client.Export(context.Background(), req)
	if status.Code(err) != codes.ResourceExhausted || retryDelay(err) != cfg.RetryAfter {
		t.Errorf("gRPC while full: %v (RetryInfo %v), want RESOURCE_EXHAUSTED with RetryInfo %v", err, retryDelay(err), cfg.RetryAfter)
	}
	url := "http://" + r.Addrs().HTTP + HTTPTracesPath
	res := postHTTP(t, http.DefaultClient, url, mustMarshal(t, req), map[string]string{"Content-Type": "application/x-protobuf"})
	if res.code != http.StatusTooManyRequests || res.retryAfter != "2" {
		t.Errorf("HTTP while full: %d Retry-After %q, want 429 with Retry-After 2", res.code, res.retryAfter)
	}

	close(release)
	if err := <-first; err != nil {
		t.Fatalf("held request: %v", err)
	}
	if _, err := client.Export(context.Background(), req); err != nil {
		t.Errorf("gRPC retry after release: %v", err)
	}
	if res := postHTTP(t, http.DefaultClient, url, mustMarshal(t, req), map[string]string{"Content-Type": "application/x-protobuf"}); res.code != 200 {
		t.Errorf("HTTP retry after release: %d", res.code)
	}
	st := r.Stats()
	if st.RefusedOverload != 2 || st.Requests != 3 || st.PeakPendingBytes > int64(cfg.MaxPendingBytes) || st.PendingBytes != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestEmptyRequestSkipsConsumer(t *testing.T) {
	s := newSink()
	r := startReceiver(t, testConfig(), s)
	if _, err := grpcClient(t, r.Addrs().GRPC).Export(context.Background(), &collectortrace.ExportTraceServiceRequest{}); err != nil {
		t.Fatal(err)
	}
	if res := postHTTP(t, http.DefaultClient, "http://"+r.Addrs().HTTP+HTTPTracesPath, []byte("{}"), map[string]string{"Content-Type": "application/json"}); res.code != 200 {
		t.Fatalf("status %d", res.code)
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("consumer called %d times for empty requests", n)
	}
	if st := r.Stats(); st.Requests != 2 || st.Spans != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	r, err := New(testConfig(), newSink(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := r.Addrs(); a != (BoundAddrs{}) {
		t.Errorf("Addrs before Start = %+v", a)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := r.Start(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Shutdown: %v, want ErrClosed", err)
	}

	never, err := New(testConfig(), newSink(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := never.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown before Start: %v", err)
	}

	// Only one listener.
	cfg := testConfig()
	cfg.HTTPAddr = ""
	one := startReceiver(t, cfg, newSink())
	if a := one.Addrs(); a.GRPC == "" || a.HTTP != "" {
		t.Errorf("Addrs = %+v, want gRPC only", a)
	}

	// A bind failure leaves nothing bound.
	cfg = testConfig()
	cfg.HTTPAddr = one.Addrs().GRPC // taken
	clash, err := New(cfg, newSink(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := clash.Start(ctx); err == nil || !strings.Contains(err.Error(), "http") {
		t.Errorf("Start on a taken port: %v", err)
	}
	if err := clash.Start(ctx); err == nil || errors.Is(err, ErrStarted) {
		t.Errorf("Start after a failed Start: %v, want a bind error again", err)
	}
}

func TestNewErrors(t *testing.T) {
	off := testConfig()
	off.GRPCAddr, off.HTTPAddr = "", ""
	missing := testConfig()
	missing.TLS = TLSConfig{CertFile: "testdata/nonexistent.pem", KeyFile: "testdata/nonexistent.key"}
	for _, tc := range []struct {
		name       string
		cfg        Config
		c          Consumer
		wantConfig bool
	}{
		{"both listeners off", off, newSink(), true},
		{"invalid config", Config{}, newSink(), true},
		{"nil consumer", testConfig(), nil, false},
		{"missing TLS files", missing, newSink(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.cfg, tc.c, nil)
			if err == nil || r != nil {
				t.Fatalf("New = %v, %v; want an error", r, err)
			}
			if errors.Is(err, ErrInvalidConfig) != tc.wantConfig {
				t.Errorf("error %v: errors.Is(ErrInvalidConfig) = %v, want %v", err, !tc.wantConfig, tc.wantConfig)
			}
		})
	}
}

// TestShutdownWaitsForInFlight: a request in flight when Shutdown starts is
// still answered.
func TestShutdownWaitsForInFlight(t *testing.T) {
	entered := make(chan struct{}, 2)
	c := ConsumerFunc(func(ctx context.Context, _ []*tracepb.ResourceSpans) error {
		entered <- struct{}{}
		time.Sleep(150 * time.Millisecond)
		return ctx.Err()
	})
	r := startedReceiver(t, testConfig(), c)
	client := grpcClient(t, r.Addrs().GRPC)
	url := "http://" + r.Addrs().HTTP + HTTPTracesPath
	grpcDone, httpDone := make(chan error, 1), make(chan int, 1)
	go func() { _, err := client.Export(context.Background(), makeRequest(1, 1)); grpcDone <- err }()
	go func() {
		res, err := tryPostHTTP(http.DefaultClient, url, mustMarshal(t, makeRequest(2, 1)), map[string]string{"Content-Type": "application/x-protobuf"})
		if err != nil {
			httpDone <- -1
			return
		}
		httpDone <- res.code
	}()
	<-entered
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-grpcDone; err != nil {
		t.Errorf("in-flight gRPC request: %v", err)
	}
	if code := <-httpDone; code != 200 {
		t.Errorf("in-flight HTTP request: %d", code)
	}
	if _, err := tryPostHTTP(http.DefaultClient, url, nil, nil); err == nil {
		t.Error("HTTP listener still answers after Shutdown")
	}
}

// TestShutdownForced: when the Shutdown context ends first, consumer calls
// see their context cancelled and Shutdown reports it.
func TestShutdownForced(t *testing.T) {
	entered := make(chan struct{}, 2)
	var cancelled atomic.Int64
	c := ConsumerFunc(func(ctx context.Context, _ []*tracepb.ResourceSpans) error {
		entered <- struct{}{}
		<-ctx.Done()
		cancelled.Add(1)
		return ctx.Err()
	})
	r := startedReceiver(t, testConfig(), c)
	client := grpcClient(t, r.Addrs().GRPC)
	url := "http://" + r.Addrs().HTTP + HTTPTracesPath
	done := make(chan struct{}, 2)
	go func() { _, _ = client.Export(context.Background(), makeRequest(1, 1)); done <- struct{}{} }()
	go func() {
		_, _ = tryPostHTTP(http.DefaultClient, url, mustMarshal(t, makeRequest(2, 1)), map[string]string{"Content-Type": "application/x-protobuf"})
		done <- struct{}{}
	}()
	<-entered
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := r.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want DeadlineExceeded", err)
	}
	<-done
	<-done
	testkit.WaitFor(t, "both consumer calls cancelled", 5*time.Second, func() bool { return cancelled.Load() == 2 })
	if st := r.Stats(); st.PendingBytes != 0 || st.ConsumerErrors != 2 {
		t.Errorf("stats %+v", st)
	}
}
