package otlpjson

import (
	"encoding/base64"
	"math"
	"strconv"
	"unsafe"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpproto"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// AppendBatch appends b as one ExportTraceServiceRequest JSON object (no
// trailing newline).
func AppendBatch(dst []byte, b *span.Batch) []byte {
	return AppendRequest(dst, []*tracepb.ResourceSpans{otlpproto.ToProto(b)})
}

// AppendExportRequest appends req as one JSON object (no trailing newline).
func AppendExportRequest(dst []byte, req *coltracepb.ExportTraceServiceRequest) []byte {
	return AppendRequest(dst, req.GetResourceSpans())
}

// AppendRequest appends an ExportTraceServiceRequest holding rss as one
// JSON object (no trailing newline). Nil entries are skipped.
func AppendRequest(dst []byte, rss []*tracepb.ResourceSpans) []byte {
	dst = append(dst, `{"resourceSpans":[`...)
	first := true
	for _, rs := range rss {
		if rs == nil {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendResourceSpans(dst, rs)
	}
	return append(dst, "]}"...)
}

// object writes the members of one JSON object from tracepb structs.
type object struct{ members }

func open(dst []byte) object { return object{members{dst: append(dst, '{')}} }

func (o *object) close() []byte { return append(o.dst, '}') }

func (o *object) str(qk, v string) {
	if v != "" {
		o.key(qk)
		o.dst = appendString(o.dst, v)
	}
}

func (o *object) attrs(qk string, kvs []*commonpb.KeyValue) {
	if len(kvs) == 0 {
		return
	}
	o.key(qk)
	o.dst = appendKeyValues(o.dst, kvs)
}

func (o *object) strs(qk string, ss []string) { array(o, qk, ss, appendString) }

// array writes the member qk, a JSON array of xs each written by each,
// unless xs is empty.
func array[T any](o *object, qk string, xs []T, each func([]byte, T) []byte) {
	if len(xs) == 0 {
		return
	}
	o.key(qk)
	o.dst = appendArray(o.dst, xs, each)
}

// appendArray appends xs as a JSON array, each element written by each.
func appendArray[T any](dst []byte, xs []T, each func([]byte, T) []byte) []byte {
	dst = append(dst, '[')
	for i, x := range xs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = each(dst, x)
	}
	return append(dst, ']')
}

// AppendResourceSpans appends one ResourceSpans JSON object.
func AppendResourceSpans(dst []byte, rs *tracepb.ResourceSpans) []byte {
	o := open(dst)
	if rs.Resource != nil {
		o.key(`"resource":`)
		o.dst = appendResource(o.dst, rs.Resource)
	}
	array(&o, `"scopeSpans":`, rs.ScopeSpans, appendScopeSpans)
	o.str(`"schemaUrl":`, rs.SchemaUrl)
	return o.close()
}

func appendResource(dst []byte, r *resourcepb.Resource) []byte {
	o := open(dst)
	o.attrs(`"attributes":`, r.Attributes)
	o.u32(`"droppedAttributesCount":`, r.DroppedAttributesCount)
	array(&o, `"entityRefs":`, r.EntityRefs, appendEntityRef)
	return o.close()
}

func appendEntityRef(dst []byte, e *commonpb.EntityRef) []byte {
	o := open(dst)
	o.str(`"schemaUrl":`, e.SchemaUrl)
	o.str(`"type":`, e.Type)
	o.strs(`"idKeys":`, e.IdKeys)
	o.strs(`"descriptionKeys":`, e.DescriptionKeys)
	return o.close()
}

func appendScopeSpans(dst []byte, ss *tracepb.ScopeSpans) []byte {
	o := open(dst)
	if ss.Scope != nil {
		o.key(`"scope":`)
		so := open(o.dst)
		so.str(`"name":`, ss.Scope.Name)
		so.str(`"version":`, ss.Scope.Version)
		so.attrs(`"attributes":`, ss.Scope.Attributes)
		so.u32(`"droppedAttributesCount":`, ss.Scope.DroppedAttributesCount)
		o.dst = so.close()
	}
	array(&o, `"spans":`, ss.Spans, appendSpan)
	o.str(`"schemaUrl":`, ss.SchemaUrl)
	return o.close()
}

func appendSpan(dst []byte, s *tracepb.Span) []byte {
	o := open(dst)
	o.hexID(`"traceId":`, s.TraceId)
	o.hexID(`"spanId":`, s.SpanId)
	o.str(`"traceState":`, s.TraceState)
	o.hexID(`"parentSpanId":`, s.ParentSpanId)
	o.u32(`"flags":`, s.Flags)
	o.str(`"name":`, s.Name)
	o.i32(`"kind":`, int32(s.Kind))
	o.u64(`"startTimeUnixNano":`, s.StartTimeUnixNano)
	o.u64(`"endTimeUnixNano":`, s.EndTimeUnixNano)
	o.attrs(`"attributes":`, s.Attributes)
	o.u32(`"droppedAttributesCount":`, s.DroppedAttributesCount)
	array(&o, `"events":`, s.Events, appendEvent)
	o.u32(`"droppedEventsCount":`, s.DroppedEventsCount)
	array(&o, `"links":`, s.Links, appendLink)
	o.u32(`"droppedLinksCount":`, s.DroppedLinksCount)
	if s.Status != nil {
		o.key(`"status":`)
		so := open(o.dst)
		so.str(`"message":`, s.Status.Message)
		so.i32(`"code":`, int32(s.Status.Code))
		o.dst = so.close()
	}
	return o.close()
}

func appendEvent(dst []byte, e *tracepb.Span_Event) []byte {
	o := open(dst)
	o.u64(`"timeUnixNano":`, e.TimeUnixNano)
	o.str(`"name":`, e.Name)
	o.attrs(`"attributes":`, e.Attributes)
	o.u32(`"droppedAttributesCount":`, e.DroppedAttributesCount)
	return o.close()
}

func appendLink(dst []byte, l *tracepb.Span_Link) []byte {
	o := open(dst)
	o.hexID(`"traceId":`, l.TraceId)
	o.hexID(`"spanId":`, l.SpanId)
	o.str(`"traceState":`, l.TraceState)
	o.attrs(`"attributes":`, l.Attributes)
	o.u32(`"droppedAttributesCount":`, l.DroppedAttributesCount)
	o.u32(`"flags":`, l.Flags)
	return o.close()
}

func appendKeyValues(dst []byte, kvs []*commonpb.KeyValue) []byte {
	return appendArray(dst, kvs, appendKeyValue)
}

func appendKeyValue(dst []byte, kv *commonpb.KeyValue) []byte {
	o := open(dst)
	o.str(`"key":`, kv.GetKey())
	if kv.GetValue() != nil {
		o.key(`"value":`)
		o.dst = appendAnyValue(o.dst, kv.Value)
	}
	o.i32(`"keyStrindex":`, kv.GetKeyStrindex())
	return o.close()
}

func appendAnyValue(dst []byte, v *commonpb.AnyValue) []byte {
	o := open(dst)
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		o.key(`"stringValue":`)
		o.dst = appendString(o.dst, x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		o.key(`"boolValue":`)
		o.dst = strconv.AppendBool(o.dst, x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		o.key(`"intValue":`)
		o.dst = append(o.dst, '"')
		o.dst = strconv.AppendInt(o.dst, x.IntValue, 10)
		o.dst = append(o.dst, '"')
	case *commonpb.AnyValue_DoubleValue:
		o.key(`"doubleValue":`)
		o.dst = appendFloat(o.dst, x.DoubleValue)
	case *commonpb.AnyValue_ArrayValue:
		o.key(`"arrayValue":`)
		ao := open(o.dst)
		array(&ao, `"values":`, x.ArrayValue.GetValues(), appendAnyValue)
		o.dst = ao.close()
	case *commonpb.AnyValue_KvlistValue:
		o.key(`"kvlistValue":`)
		ko := open(o.dst)
		ko.attrs(`"values":`, x.KvlistValue.GetValues())
		o.dst = ko.close()
	case *commonpb.AnyValue_BytesValue:
		o.key(`"bytesValue":`)
		o.dst = append(o.dst, '"')
		o.dst = base64.StdEncoding.AppendEncode(o.dst, x.BytesValue)
		o.dst = append(o.dst, '"')
	case *commonpb.AnyValue_StringValueStrindex:
		o.key(`"stringValueStrindex":`)
		o.dst = strconv.AppendInt(o.dst, int64(x.StringValueStrindex), 10)
	}
	return o.close()
}

// appendFloat writes f as a JSON number, or as the strings "NaN",
// "Infinity", "-Infinity" (the protobuf JSON mapping) where JSON has none.
func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendEscape writes the JSON escape of an ASCII byte that cannot stand
// for itself in a JSON string (a quote, a backslash, a control character).
func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// protobuf strings must be valid UTF-8 anyway.
func appendString(dst []byte, s string) []byte {
	out, _ := appendEscaped(dst, unsafe.Slice(unsafe.StringData(s), len(s)), true)
	return out
}
