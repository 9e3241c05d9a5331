package exporter

import (
	"context"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpproto"
)

// Client is a transport: it delivers OTLP requests and reports whether the
// backend accepted them. It is otlptrace.Client's method set, so the OTel
// OTLP clients satisfy it. Start is called once before any upload, Stop
// once at the end; UploadTraces may be called concurrently.
type Client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	UploadTraces(ctx context.Context, rs []*tracepb.ResourceSpans) error
}

var _ Client = otlptrace.Client(nil)

// RequestUploader is the fast path a Client may offer: it takes the
// request already encoded as an OTLP ExportTraceServiceRequest protobuf
// body, so the Exporter never builds tracepb structs. body is only valid
// until the call returns. Every client in this package implements it.
type RequestUploader interface {
	UploadRequest(ctx context.Context, body []byte) error
}

// unmarshalRequest decodes a request body into tracepb, for clients that
// need structs (JSON encoders, foreign clients).
func unmarshalRequest(body []byte) ([]*tracepb.ResourceSpans, error) {
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("exporter: decoding encoded request: %w", err)
	}
	return req.ResourceSpans, nil
}

// wrapEncoded returns one ResourceSpans per entry of an encoded request,
// each carrying its encoded fields as the message's unknown fields.
// proto.Marshal writes unknown fields verbatim, so marshalling an
// ExportTraceServiceRequest of these wrappers reproduces body byte for byte
// without decoding it. The wrappers alias body.
func wrapEncoded(body []byte) ([]*tracepb.ResourceSpans, error) {
	var out []*tracepb.ResourceSpans
	err := otlpproto.SplitRequest(body, func(rs []byte) {
		m := &tracepb.ResourceSpans{}
		m.ProtoReflect().SetUnknown(protoreflect.RawFields(rs))
		out = append(out, m)
	})
	if err != nil {
		return nil, fmt.Errorf("exporter: splitting encoded request: %w", err)
	}
	return out, nil
}

// countSpans counts spans in an encoded request without decoding spans
// (malformed input: the spans before the fault).
func countSpans(body []byte) int {
	n := 0
	_ = otlpproto.SplitRequest(body, func(rs []byte) {
		_ = otlpproto.ForEachField(rs, 2, func(ss []byte) {
			_ = otlpproto.ForEachField(ss, 2, func([]byte) { n++ })
		})
	})
	return n
}

// DiscardClient accepts everything and keeps only counts. For benchmarks
// and dry runs.
type DiscardClient struct {
	requests, spans, bytes atomic.Int64
}

var (
	_ Client          = (*DiscardClient)(nil)
	_ RequestUploader = (*DiscardClient)(nil)
)

// Start does nothing.
func (*DiscardClient) Start(context.Context) error { return nil }

// Stop does nothing.
func (*DiscardClient) Stop(context.Context) error { return nil }

// UploadTraces counts rs.
func (d *DiscardClient) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	d.requests.Add(1)
	for _, r := range rs {
		for _, ss := range r.GetScopeSpans() {
			d.spans.Add(int64(len(ss.GetSpans())))
		}
	}
	d.bytes.Add(int64(proto.Size(&coltracepb.ExportTraceServiceRequest{ResourceSpans: rs})))
	return nil
}

// UploadRequest counts body.
func (d *DiscardClient) UploadRequest(_ context.Context, body []byte) error {
	d.requests.Add(1)
	d.spans.Add(int64(countSpans(body)))
	d.bytes.Add(int64(len(body)))
	return nil
}

// Counts returns the requests, spans and bytes received so far.
func (d *DiscardClient) Counts() (requests, spans, bytes int64) {
	return d.requests.Load(), d.spans.Load(), d.bytes.Load()
}
