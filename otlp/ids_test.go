package otlp

import (
	"errors"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

func TestCheckIDs(t *testing.T) {
	tid, sid := make([]byte, 16), make([]byte, 8)
	req := func(spans ...*tracepb.Span) *coltracepb.ExportTraceServiceRequest {
		return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{
			{ScopeSpans: []*tracepb.ScopeSpans{{}, {Spans: append([]*tracepb.Span{{TraceId: tid, SpanId: sid}}, spans...)}}},
		}}
	}
	for _, tc := range []struct {
		name  string
		span  *tracepb.Span
		field string
		len   int
	}{
		{"valid", &tracepb.Span{TraceId: tid, SpanId: sid, ParentSpanId: sid, Links: []*tracepb.Span_Link{{TraceId: tid, SpanId: sid}}}, "", 0},
		{"no trace id", &tracepb.Span{SpanId: sid}, "resourceSpans[0].scopeSpans[1].spans[1].traceId", 0},
		{"long span id", &tracepb.Span{TraceId: tid, SpanId: make([]byte, 9)}, "resourceSpans[0].scopeSpans[1].spans[1].spanId", 9},
		{"short parent", &tracepb.Span{TraceId: tid, SpanId: sid, ParentSpanId: []byte{1}}, "resourceSpans[0].scopeSpans[1].spans[1].parentSpanId", 1},
		{"link trace id", &tracepb.Span{TraceId: tid, SpanId: sid, Links: []*tracepb.Span_Link{{TraceId: sid, SpanId: sid}}}, "resourceSpans[0].scopeSpans[1].spans[1].links[0].traceId", 8},
		{"link without span id", &tracepb.Span{TraceId: tid, SpanId: sid, Links: []*tracepb.Span_Link{{TraceId: tid}}}, "resourceSpans[0].scopeSpans[1].spans[1].links[0].spanId", 0},
	} {
		r := req(tc.span)
		err := CheckIDs(r)
		if got, cerr := Checked(r); (cerr == nil) != (err == nil) || (err == nil) != (got == r) {
			t.Errorf("%s: Checked = %v, %v; CheckIDs = %v", tc.name, got, cerr, err)
		}
		var ie *IDError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field == "":
		case !errors.As(err, &ie) || !errors.Is(err, ErrMalformed) || ie.Field != tc.field || ie.Len != tc.len:
			t.Errorf("%s: err = %v, want an IDError for %s with %d bytes", tc.name, err, tc.field, tc.len)
		case err.Error() != "malformed OTLP data: "+tc.field+" has "+string(rune('0'+tc.len))+" bytes":
			t.Errorf("%s: message %q", tc.name, err)
		}
	}
	if err := CheckIDs(&coltracepb.ExportTraceServiceRequest{}); err != nil {
		t.Errorf("empty request: %v", err)
	}
}
