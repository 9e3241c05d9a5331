package otlpproto

import (
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// ToProto converts b to one tracepb.ResourceSpans holding one ScopeSpans.
// Strings are shared, byte slices (ids) are copied. proto.Marshal of the
// result equals AppendProto(nil, b).
//
// It allocates several objects per span; use AppendProto on hot paths.
func ToProto(b *span.Batch) *tracepb.ResourceSpans {
	rs := &tracepb.ResourceSpans{}
	if b.Resource != nil {
		rs.Resource = &resourcepb.Resource{Attributes: ToKeyValues(b.Resource.Attrs)}
	}
	ss := &tracepb.ScopeSpans{
		Scope: &commonpb.InstrumentationScope{Name: b.Scope.Name, Version: b.Scope.Version},
		Spans: make([]*tracepb.Span, len(b.Spans)),
	}
	for i := range b.Spans {
		ss.Spans[i] = SpanToProto(&b.Spans[i])
	}
	rs.ScopeSpans = []*tracepb.ScopeSpans{ss}
	return rs
}

// SpanToProto converts one span.
func SpanToProto(s *span.Span) *tracepb.Span {
	p := &tracepb.Span{
		TraceId:           append([]byte(nil), s.TraceID[:]...),
		SpanId:            append([]byte(nil), s.SpanID[:]...),
		Name:              s.Name,
		Kind:              tracepb.Span_SpanKind(s.Kind),
		StartTimeUnixNano: uint64(s.Start),
		EndTimeUnixNano:   uint64(s.End),
		Attributes:        ToKeyValues(s.Attrs),
	}
	if !s.Parent.IsZero() {
		p.ParentSpanId = append([]byte(nil), s.Parent[:]...)
	}
	if len(s.Events) > 0 {
		p.Events = make([]*tracepb.Span_Event, len(s.Events))
		for i := range s.Events {
			e := &s.Events[i]
			p.Events[i] = &tracepb.Span_Event{
				TimeUnixNano: uint64(e.Time),
				Name:         e.Name,
				Attributes:   ToKeyValues(e.Attrs),
			}
		}
	}
	if len(s.Links) > 0 {
		p.Links = make([]*tracepb.Span_Link, len(s.Links))
		for i := range s.Links {
			l := &s.Links[i]
			p.Links[i] = &tracepb.Span_Link{
				TraceId:    append([]byte(nil), l.TraceID[:]...),
				SpanId:     append([]byte(nil), l.SpanID[:]...),
				Attributes: ToKeyValues(l.Attrs),
			}
		}
	}
	if s.Status != 0 || s.StatusMessage != "" {
		p.Status = &tracepb.Status{Message: s.StatusMessage, Code: tracepb.Status_StatusCode(s.Status)}
	}
	return p
}

// ToKeyValues converts attributes; nil for none.
func ToKeyValues(attrs []span.Attr) []*commonpb.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	kvs := make([]*commonpb.KeyValue, len(attrs))
	for i := range attrs {
		kvs[i] = &commonpb.KeyValue{Key: attrs[i].Key, Value: ToAnyValue(&attrs[i].Value)}
	}
	return kvs
}

// ToAnyValue converts one value. TypeEmpty (and any unknown type) becomes an
// empty AnyValue.
func ToAnyValue(v *span.Value) *commonpb.AnyValue {
	switch v.Type {
	case span.TypeString:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.Str}}
	case span.TypeInt:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.Num}}
	case span.TypeDouble:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat()}}
	case span.TypeBool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}}
	case span.TypeStringSlice:
		vals := make([]*commonpb.AnyValue, len(v.Strs))
		for i, s := range v.Strs {
			vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
	case span.TypeIntSlice:
		vals := make([]*commonpb.AnyValue, len(v.Ints))
		for i, x := range v.Ints {
			vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: x}}
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
	}
	return &commonpb.AnyValue{}
}
