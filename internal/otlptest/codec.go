package otlptest

import (
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// codec is the gRPC server codec. In discard mode it keeps a request's
// bytes as the message's unknown fields instead of decoding them.
type codec struct{ discard bool }

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) ([]byte, error) { return proto.Marshal(v.(proto.Message)) }

func (c codec) Unmarshal(data []byte, v any) error {
	if req, ok := v.(*coltracepb.ExportTraceServiceRequest); ok && c.discard {
		// gRPC hands a v1 codec a fresh copy of the message; keep it as is.
		req.ProtoReflect().SetUnknown(protoreflect.RawFields(data))
		return nil
	}
	return proto.Unmarshal(data, v.(proto.Message))
}

// countSpans counts the spans of a decoded request, or of one held as raw
// bytes by the discard codec.
func countSpans(req *coltracepb.ExportTraceServiceRequest) int {
	n := 0
	if raw := req.ProtoReflect().GetUnknown(); len(raw) > 0 {
		forEach(raw, 1, func(rs []byte) {
			forEach(rs, 2, func(ss []byte) {
				forEach(ss, 2, func([]byte) { n++ })
			})
		})
	}
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	return n
}

// forEach calls fn with each length-delimited field numbered field in b.
func forEach(b []byte, field protowire.Number, fn func([]byte)) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return
		}
		if num == field && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			fn(v)
		}
		b = b[m:]
	}
}
