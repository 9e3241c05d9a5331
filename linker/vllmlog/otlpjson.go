package vllmlog

import (
	"errors"
	"fmt"
	"io"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpjson"
)

// OTLPOptions configures DecodeOTLPJSON.
type OTLPOptions struct {
	// SpanName selects spans; default "llm_request" (LLMRequestSpanName).
	SpanName string
}

// ErrBadOTLP wraps every OTLP/JSON decoding failure.
var ErrBadOTLP = errors.New("vllmlog: bad OTLP/JSON")

// DecodeOTLPJSON reads OTLP/JSON trace data (one ExportTraceServiceRequest,
// or several one after another as the Collector's file exporter writes
// them) with the bridge's OTLP/JSON decoder (otlpjson.ReadStream) and
// returns the spans named opts.SpanName in the shape and with the
// attributes LLMRequests gives. Ids may be hex (the OTLP/JSON rule) or
// base64 (protojson's default). A document that does not decode, and a
// selected span with a zero trace or span id, is an error wrapping
// ErrBadOTLP; the spans before it are returned with it.
func DecodeOTLPJSON(r io.Reader, opts OTLPOptions) ([]LLMRequestSpan, error) {
	name := opts.SpanName
	if name == "" {
		name = LLMRequestSpanName
	}
	var out []LLMRequestSpan
	n := 0
	err := otlpjson.UnmarshalOptions{Base64IDs: true}.ReadStream(r, func(req *coltracepb.ExportTraceServiceRequest) error {
		first := len(out)
		out = llmRequests(out, req.GetResourceSpans(), name)
		for i, s := range out[first:] {
			if s.TraceID.IsZero() || s.SpanID.IsZero() {
				out = out[:first+i]
				return fmt.Errorf("%w: document %d: span %s: zero trace or span id", ErrBadOTLP, n, s.SpanID)
			}
		}
		n++
		return nil
	})
	if err != nil && !errors.Is(err, ErrBadOTLP) {
		err = fmt.Errorf("%w: %w", ErrBadOTLP, err)
	}
	return out, err
}
