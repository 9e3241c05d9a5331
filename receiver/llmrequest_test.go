package receiver

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestLLMRequestsFixture extracts the llm_request spans of a real vLLM run
// and compares them with testdata/llm_requests.golden.json (-update rewrites
// it).
func TestLLMRequestsFixture(t *testing.T) {
	req, err := decodeJSON(readFixture(t, "llm_request.otlp.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := LLMRequests(req.GetResourceSpans())
	if len(got) != 56 {
		t.Fatalf("%d llm_request spans, want 56 (the frontend's 56 HTTP spans must be skipped)", len(got))
	}
	first := got[0]
	if first.RequestID != "chatcmpl-f1fd42a29755d4c1" || first.ServiceName != "vllm" ||
		first.TraceID.String() != "24606309b0745e3fb8406baf99a52395" || first.SpanID.String() != "24d9d4d9b27eb1cd" ||
		first.ParentSpanID.String() != "c447a7759bd140c2" || first.Start != 1795789263608374775 || first.End != 1795789265356425377 ||
		first.PromptTokens != (Int{21, true}) || first.CompletionTokens != (Int{11, true}) ||
		first.E2E != (Float{1.748050602, true}) || first.TimeInModelInference != (Float{1.3362431639999999, true}) {
		t.Errorf("first span = %+v", first)
	}
	// Ids as hex, as OTLP/JSON and Jaeger show them; the embedded struct's
	// byte-array ids are shadowed.
	type view struct {
		LLMRequestSpan
		TraceID, SpanID, ParentSpanID string
	}
	views := make([]view, len(got))
	for i, g := range got {
		views[i] = view{g, g.TraceID.String(), g.SpanID.String(), g.ParentSpanID.String()}
	}
	b, err := json.MarshalIndent(views, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	const golden = "testdata/llm_requests.golden.json"
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("LLMRequests output differs from %s; run go test -run TestLLMRequestsFixture -update and review the diff", golden)
	}
}

func TestLLMRequestsValues(t *testing.T) {
	str := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	i64 := func(v int64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}
	}
	f64 := func(v float64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v}}
	}
	kv := func(k string, v *commonpb.AnyValue) *commonpb.KeyValue { return &commonpb.KeyValue{Key: k, Value: v} }
	base := func(attrs ...*commonpb.KeyValue) *tracepb.Span {
		return &tracepb.Span{TraceId: traceID(1), SpanId: spanID(2), Name: LLMRequestSpanName, StartTimeUnixNano: 10, EndTimeUnixNano: 20, Attributes: attrs}
	}
	tests := []struct {
		name  string
		span  *tracepb.Span
		want  LLMRequestSpan
		found bool
	}{
		{name: "root span, no attributes", span: base(), found: true,
			want: LLMRequestSpan{Start: 10, End: 20}},
		{name: "ints and floats cross over", found: true,
			span: base(kv(AttrRequestTemperature, i64(1)), kv(AttrRequestMaxTokens, f64(16)), kv(AttrRequestN, f64(1.5)), kv(AttrRequestTopP, str("0.9"))),
			want: LLMRequestSpan{Start: 10, End: 20, Temperature: Float{1, true}, MaxTokens: Int{16, true}}},
		{name: "every field", found: true,
			span: base(kv(AttrRequestID, str("cmpl-abc-0")), kv(AttrRequestTopP, f64(0.5)), kv(AttrRequestN, i64(2)),
				kv(AttrUsagePromptTokens, i64(3)), kv(AttrUsageCompletionTokens, i64(4)),
				kv(AttrLatencyTimeInQueue, f64(0.1)), kv(AttrLatencyTimeToFirstToken, f64(0.2)), kv(AttrLatencyE2E, f64(0.3)),
				kv(AttrLatencyTimeInScheduler, f64(0.4)), kv(AttrLatencyTimeInModelPrefill, f64(0.5)),
				kv(AttrLatencyTimeInModelDecode, f64(0.6)), kv(AttrLatencyTimeInModelInfer, f64(0.7))),
			want: LLMRequestSpan{Start: 10, End: 20, RequestID: "cmpl-abc-0", TopP: Float{0.5, true}, N: Int{2, true},
				PromptTokens: Int{3, true}, CompletionTokens: Int{4, true}, TimeInQueue: Float{0.1, true}, TimeToFirstToken: Float{0.2, true},
				E2E: Float{0.3, true}, TimeInScheduler: Float{0.4, true}, TimeInModelPrefill: Float{0.5, true},
				TimeInModelDecode: Float{0.6, true}, TimeInModelInference: Float{0.7, true}}},
		{name: "NaN int is absent", found: true, span: base(kv(AttrRequestMaxTokens, f64(math.NaN()))), want: LLMRequestSpan{Start: 10, End: 20}},
		{name: "other name", span: &tracepb.Span{TraceId: traceID(1), SpanId: spanID(2), Name: "POST /v1/chat/completions"}},
		{name: "bad trace id", span: &tracepb.Span{TraceId: []byte{1}, SpanId: spanID(2), Name: LLMRequestSpanName}},
		{name: "bad parent id", span: &tracepb.Span{TraceId: traceID(1), SpanId: spanID(2), ParentSpanId: []byte{1, 2}, Name: LLMRequestSpanName}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := []*tracepb.ResourceSpans{{
				Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", str("svc"))}},
				ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{tc.span}}},
			}}
			got := LLMRequests(rs)
			if !tc.found {
				if len(got) != 0 {
					t.Fatalf("got %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("got %d spans, want 1", len(got))
			}
			tc.want.ServiceName = "svc"
			copy(tc.want.TraceID[:], traceID(1))
			copy(tc.want.SpanID[:], spanID(2))
			if got[0] != tc.want {
				t.Errorf("got  %+v\nwant %+v", got[0], tc.want)
			}
		})
	}
}
