package exporter

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpjson"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpproto"
)

// requestReader reads back the requests of a file client's output
// (otlpjson.ReadJSONLines, otlpproto.ReadDelimited).
type requestReader func(io.Reader, func(*coltracepb.ExportTraceServiceRequest) error) error

// shutdownAndRead shuts e down (so its file client has written and closed
// path) and reads the requests in path back with read.
func shutdownAndRead(t *testing.T, e *Exporter, path string, read requestReader) []*coltracepb.ExportTraceServiceRequest {
	t.Helper()
	if err := e.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var reqs []*coltracepb.ExportTraceServiceRequest
	if err := read(f, func(r *coltracepb.ExportTraceServiceRequest) error {
		reqs = append(reqs, r)
		return nil
	}); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return reqs
}

// forwarded is a request as vLLM's SDK sends it: flags set, a status.
func forwarded() []*tracepb.ResourceSpans {
	return []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: "vllm.llm_engine"},
			Spans: []*tracepb.Span{{
				TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8),
				Flags: 0x301, Name: "llm_request", Kind: tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: 1, EndTimeUnixNano: 2,
				Attributes: []*commonpb.KeyValue{{Key: "gen_ai.request.id", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "cmpl-1"}}}},
				Status:     &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK},
			}},
		}},
		SchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
	}}
}

// TestFileClientUploadRequest: writing an encoded request gives the same
// line as writing its decoded tracepb (the file client's path before the
// transcoder), and a body that does not decode writes nothing.
func TestFileClientUploadRequest(t *testing.T) {
	ctx := context.Background()
	var bodies [][]byte
	var bld otlpproto.Builder
	var h otlpproto.Header
	b := kernelBatch(testResource, 0, 300)
	h.SetBatch(b.Resource, b.Scope)
	bld.Open(&h)
	for i := range b.Spans {
		bld.AddSpan(&b.Spans[i], otlpproto.SpanSize(&b.Spans[i]))
	}
	body, _ := bld.Take(nil, false)
	fwd, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: forwarded()})
	if err != nil {
		t.Fatal(err)
	}
	bodies = append(bodies, body, fwd, nil)
	var got, want bytes.Buffer
	newc, oldc := NewWriterClient(&got), NewWriterClient(&want)
	for _, body := range bodies {
		if err := newc.UploadRequest(ctx, body); err != nil {
			t.Fatal(err)
		}
		rs, err := unmarshalRequest(body)
		if err != nil {
			t.Fatal(err)
		}
		if err := oldc.UploadTraces(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("UploadRequest wrote\n%s\nUploadTraces wrote\n%s", got.Bytes(), want.Bytes())
	}
	n := got.Len()
	if err := newc.UploadRequest(ctx, []byte{0x0a, 0x05, 1}); err == nil || got.Len() != n {
		t.Fatalf("malformed body: err %v, %d bytes written", err, got.Len()-n)
	}
}

// TestFileClientFormats exports the same spans to out.jsonl and
// out.otlp.pb and reads both back as the same requests.
func TestFileClientFormats(t *testing.T) {
	dir := t.TempDir()
	read := map[string]requestReader{"out.jsonl": otlpjson.ReadJSONLines, "out.otlp.pb": otlpproto.ReadDelimited}
	got := map[string][]*coltracepb.ExportTraceServiceRequest{}
	for name, rd := range read {
		path := filepath.Join(dir, name)
		cl, err := NewClientFor(SinkConfig{Protocol: ProtocolFile, Path: path}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg := fastConfig()
		cfg.MaxRequestBytes = 32 << 10
		cfg.MaxInFlight = 4 // the file client gets one sender anyway: both files hold the requests in the same order
		e := New(cl, cfg, testLogger(t))
		if got := e.Config().MaxInFlight; got != 1 {
			t.Fatalf("file client runs with %d senders", got)
		}
		if err := e.Start(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		tr := e.NewTracker()
		if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 500), tr); err != nil {
			t.Fatal(err)
		}
		if err := e.ExportRaw(ctxT(t), forwarded(), tr); err != nil {
			t.Fatal(err)
		}
		if err := tr.Wait(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		// The tracepb path of the client too.
		if err := cl.UploadTraces(ctxT(t), forwarded()); err != nil {
			t.Fatal(err)
		}
		got[name] = shutdownAndRead(t, e, path, rd)
		if int64(len(got[name])) != e.Stats().RequestsExported+1 || len(got[name]) < 3 {
			t.Fatalf("%s: %d requests for %d exported + 1", name, len(got[name]), e.Stats().RequestsExported)
		}
	}
	js, pb := got["out.jsonl"], got["out.otlp.pb"]
	if len(js) != len(pb) {
		t.Fatalf("%d JSON requests, %d protobuf", len(js), len(pb))
	}
	for i := range js {
		if !proto.Equal(js[i], pb[i]) {
			t.Fatalf("request %d differs:\n json %v\n pb   %v", i, js[i], pb[i])
		}
	}
	// One sender: the spans come back in the order they were exported.
	want := kernelBatch(testResource, 0, 500)
	i := 0
	for _, r := range js {
		for _, s := range r.ResourceSpans[0].ScopeSpans[0].Spans {
			if i < len(want.Spans) && !bytes.Equal(s.SpanId, want.Spans[i].SpanID[:]) {
				t.Fatalf("span %d out of order", i)
			}
			i++
		}
	}
	if last := pb[len(pb)-1]; !proto.Equal(last, &coltracepb.ExportTraceServiceRequest{ResourceSpans: forwarded()}) {
		t.Fatalf("UploadTraces request read back as %v", last)
	}
}
