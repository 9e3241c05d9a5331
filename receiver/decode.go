package receiver

import (
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpjson"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpproto"
)

// The receiver decodes with the bridge's one OTLP codec (package otlp):
// every request is decoded and its ids checked (otlp.CheckIDs) before the
// Consumer sees it, and every decoding error matches ErrMalformed, which is
// otlp.ErrMalformed.

// decodeProto decodes an OTLP ExportTraceServiceRequest in protobuf wire
// format. Unknown fields are kept, so they are forwarded as received.
func decodeProto(b []byte) (*collectortrace.ExportTraceServiceRequest, error) {
	return otlpproto.Unmarshal(b)
}

// decodeJSON decodes an OTLP/JSON ExportTraceServiceRequest (ids in hex, as
// OTLP/JSON writes them; unknown fields ignored).
func decodeJSON(b []byte) (*collectortrace.ExportTraceServiceRequest, error) {
	return otlpjson.Unmarshal(b)
}
