package receiver

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
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
		Attrs                         []string
	}
	views := make([]view, len(got))
	for i, g := range got {
		views[i] = view{g, g.TraceID.String(), g.SpanID.String(), g.ParentSpanID.String(), formatAttrs(g.Attrs)}
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
			want: LLMRequestSpan{Start: 10, End: 20, Temperature: Float{1, true}, MaxTokens: Int{16, true},
				Attrs: []span.Attr{span.Int(AttrRequestTemperature, 1), span.Float(AttrRequestMaxTokens, 16), span.Float(AttrRequestN, 1.5), span.String(AttrRequestTopP, "0.9")}}},
		{name: "every field", found: true,
			span: base(kv(AttrRequestID, str("cmpl-abc-0")), kv(AttrRequestTopP, f64(0.5)), kv(AttrRequestN, i64(2)),
				kv(AttrUsagePromptTokens, i64(3)), kv(AttrUsageCompletionTokens, i64(4)),
				kv(AttrLatencyTimeInQueue, f64(0.1)), kv(AttrLatencyTimeToFirstToken, f64(0.2)), kv(AttrLatencyE2E, f64(0.3)),
				kv(AttrLatencyTimeInScheduler, f64(0.4)), kv(AttrLatencyTimeInModelPrefill, f64(0.5)),
				kv(AttrLatencyTimeInModelDecode, f64(0.6)), kv(AttrLatencyTimeInModelInfer, f64(0.7))),
			want: LLMRequestSpan{Start: 10, End: 20, RequestID: "cmpl-abc-0", TopP: Float{0.5, true}, N: Int{2, true},
				PromptTokens: Int{3, true}, CompletionTokens: Int{4, true}, TimeInQueue: Float{0.1, true}, TimeToFirstToken: Float{0.2, true},
				E2E: Float{0.3, true}, TimeInScheduler: Float{0.4, true}, TimeInModelPrefill: Float{0.5, true},
				TimeInModelDecode: Float{0.6, true}, TimeInModelInference: Float{0.7, true},
				Attrs: []span.Attr{span.String(AttrRequestID, "cmpl-abc-0"), span.Float(AttrRequestTopP, 0.5), span.Int(AttrRequestN, 2),
					span.Int(AttrUsagePromptTokens, 3), span.Int(AttrUsageCompletionTokens, 4),
					span.Float(AttrLatencyTimeInQueue, 0.1), span.Float(AttrLatencyTimeToFirstToken, 0.2), span.Float(AttrLatencyE2E, 0.3),
					span.Float(AttrLatencyTimeInScheduler, 0.4), span.Float(AttrLatencyTimeInModelPrefill, 0.5),
					span.Float(AttrLatencyTimeInModelDecode, 0.6), span.Float(AttrLatencyTimeInModelInfer, 0.7)}}},
		{name: "content and other attributes are not copied", found: true,
			span: base(kv("gen_ai.prompt", str("secret")), kv("gen_ai.input.messages", str("[...]")), kv("gen_ai.completion", str("secret")),
				kv("http.route", str("/v1/chat")), kv("gen_ai.system", str("vllm")),
				kv("gen_ai.response.finish_reasons", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{str("stop")}}}}),
				kv("gen_ai.request.stop_token_ids", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{i64(2), i64(3)}}}}),
				kv("gen_ai.request.mixed", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{i64(2), str("x")}}}}),
				kv("gen_ai.request.bytes", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{1}}}),
				kv("gen_ai.request.stream", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}})),
			want: LLMRequestSpan{Start: 10, End: 20, Attrs: []span.Attr{span.String("gen_ai.system", "vllm"),
				span.Strings("gen_ai.response.finish_reasons", []string{"stop"}), span.Ints("gen_ai.request.stop_token_ids", []int64{2, 3}),
				span.Bool("gen_ai.request.stream", true)}}},
		{name: "NaN int is absent", found: true, span: base(kv(AttrRequestMaxTokens, f64(math.NaN()))), want: LLMRequestSpan{Start: 10, End: 20,
			Attrs: []span.Attr{span.Float(AttrRequestMaxTokens, math.NaN())}}},
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
			if !reflect.DeepEqual(got[0], tc.want) {
				t.Errorf("got  %+v\nwant %+v", got[0], tc.want)
			}
		})
	}
}

// formatAttrs renders attributes as key=value with their type, for golden
// files.
func formatAttrs(attrs []span.Attr) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		var v string
		switch a.Value.Type {
		case span.TypeString:
			v = strconv.Quote(a.Value.Str)
		case span.TypeInt:
			v = strconv.FormatInt(a.Value.Num, 10)
		case span.TypeDouble:
			v = strconv.FormatFloat(a.Value.AsFloat(), 'g', -1, 64) + " (double)"
		case span.TypeBool:
			v = strconv.FormatBool(a.Value.AsBool())
		default:
			v = fmt.Sprintf("%v %v", a.Value.Strs, a.Value.Ints)
		}
		out[i] = a.Key + "=" + v
	}
	return out
}
