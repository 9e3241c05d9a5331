package vllmlog

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
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
// (decoded with DecodeOTLPJSON, which gives what LLMRequests gives) and
// compares them with testdata/llm_requests.golden.json (-update rewrites
// it).
func TestLLMRequestsFixture(t *testing.T) {
	got := fixtureSpans(t)
	// Ids as hex, as OTLP/JSON and Jaeger show them.
	type view struct {
		Start, End                    int64
		TraceID, SpanID, ParentSpanID string
		Attrs                         []string
	}
	views := make([]view, len(got))
	for i, g := range got {
		views[i] = view{g.Start, g.End, g.TraceID.String(), g.SpanID.String(), g.ParentSpanID.String(), formatAttrs(g.Attrs)}
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
		t.Errorf("llm_request spans differ from %s; run go test -run TestLLMRequestsFixture -update and review the diff", golden)
	}
}

// fixtureSpans decodes the llm_request spans of the real vLLM run in
// ../testdata/h100 with DecodeOTLPJSON.
func fixtureSpans(t *testing.T) []LLMRequestSpan {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "h100", "llm_request.otlp.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spans, err := DecodeOTLPJSON(f, OTLPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 56 {
		t.Fatalf("%d llm_request spans, want 56 (the frontend's 56 HTTP spans must be skipped)", len(spans))
	}
	return spans
}

func TestLLMRequests(t *testing.T) {
	str := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	i64 := func(v int64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}
	}
	f64 := func(v float64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v}}
	}
	arr := func(vs ...*commonpb.AnyValue) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}}
	}
	kv := func(k string, v *commonpb.AnyValue) *commonpb.KeyValue { return &commonpb.KeyValue{Key: k, Value: v} }
	traceID := bytes.Repeat([]byte{1}, 16)
	spanID := bytes.Repeat([]byte{2}, 8)
	base := func(attrs ...*commonpb.KeyValue) *tracepb.Span {
		return &tracepb.Span{TraceId: traceID, SpanId: spanID, Name: LLMRequestSpanName, StartTimeUnixNano: 10, EndTimeUnixNano: 20, Attributes: attrs}
	}
	tests := []struct {
		name  string
		span  *tracepb.Span
		want  LLMRequestSpan
		found bool
	}{
		{name: "root span, no attributes", span: base(), found: true,
			want: LLMRequestSpan{Start: 10, End: 20}},
		{name: "parent", found: true, span: func() *tracepb.Span { s := base(); s.ParentSpanId = bytes.Repeat([]byte{3}, 8); return s }(),
			want: LLMRequestSpan{ParentSpanID: span.SpanID{3, 3, 3, 3, 3, 3, 3, 3}, Start: 10, End: 20}},
		{name: "values as sent", found: true,
			span: base(kv("gen_ai.request.temperature", i64(1)), kv("gen_ai.request.max_tokens", f64(16)), kv("gen_ai.request.top_p", str("0.9")),
				kv("gen_ai.latency.e2e", f64(math.Inf(1)))),
			want: LLMRequestSpan{Start: 10, End: 20, Attrs: []span.Attr{span.Int("gen_ai.request.temperature", 1), span.Float("gen_ai.request.max_tokens", 16),
				span.String("gen_ai.request.top_p", "0.9"), span.Float("gen_ai.latency.e2e", math.Inf(1))}}},
		{name: "content and other attributes are not copied", found: true,
			span: base(kv("gen_ai.prompt", str("secret")), kv("gen_ai.input.messages", str("[...]")), kv("gen_ai.completion", str("secret")),
				kv("http.route", str("/v1/chat")), kv("gen_ai.system", str("vllm")),
				kv("gen_ai.response.finish_reasons", arr(str("stop"))),
				kv("gen_ai.request.stop_token_ids", arr(i64(2), i64(3))),
				kv("gen_ai.response.message_content", str("secret")),
				kv("gen_ai.request.mixed", arr(i64(2), str("x"))),
				kv("gen_ai.request.empty", arr()),
				kv("gen_ai.request.bytes", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{1}}}),
				kv("gen_ai.request.stream", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}})),
			want: LLMRequestSpan{Start: 10, End: 20, Attrs: []span.Attr{span.String("gen_ai.system", "vllm"),
				span.Strings("gen_ai.response.finish_reasons", []string{"stop"}), span.Bool("gen_ai.request.stream", true)}}},
		{name: "other name", span: &tracepb.Span{TraceId: traceID, SpanId: spanID, Name: "POST /v1/chat/completions"}},
		{name: "bad trace id", span: &tracepb.Span{TraceId: []byte{1}, SpanId: spanID, Name: LLMRequestSpanName}},
		{name: "bad parent id", span: &tracepb.Span{TraceId: traceID, SpanId: spanID, ParentSpanId: []byte{1, 2}, Name: LLMRequestSpanName}},
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
			copy(tc.want.TraceID[:], traceID)
			copy(tc.want.SpanID[:], spanID)
			if !reflect.DeepEqual(got[0], tc.want) {
				t.Errorf("got  %+v\nwant %+v", got[0], tc.want)
			}
		})
	}
}

// TestIsMetadataAttr pins the privacy policy key by key. The want column
// is what reached the request timeline before the policy was one function
// (the receiver's allow-list, then the timeline's deny-list).
func TestIsMetadataAttr(t *testing.T) {
	for key, want := range map[string]bool{
		// What vLLM sets (vllm/tracing/utils.py).
		"gen_ai.request.id": true, "gen_ai.request.temperature": true, "gen_ai.request.top_p": true,
		"gen_ai.request.max_tokens": true, "gen_ai.request.n": true, "gen_ai.usage.prompt_tokens": true,
		"gen_ai.usage.completion_tokens": true, "gen_ai.usage.num_sequences": true, "gen_ai.response.model": true,
		"gen_ai.latency.time_in_queue": true, "gen_ai.latency.time_to_first_token": true, "gen_ai.latency.e2e": true,
		"gen_ai.latency.time_in_scheduler": true, "gen_ai.latency.time_in_model_prefill": true,
		"gen_ai.latency.time_in_model_decode": true, "gen_ai.latency.time_in_model_inference": true,
		// Other metadata of the GenAI conventions.
		"gen_ai.system": true, "gen_ai.operation.name": true, "gen_ai.provider.name": true,
		"gen_ai.response.finish_reasons": true, "gen_ai.request.stream": true, "gen_ai.response.id": true,
		// Content, by namespace or by name.
		"gen_ai.prompt": false, "gen_ai.prompt.0.content": false, "gen_ai.completion": false, "gen_ai.completion.0.content": false,
		"gen_ai.input.messages": false, "gen_ai.output.messages": false, "gen_ai.system_instructions": false,
		"gen_ai.tool.call.arguments": false, "gen_ai.tool.call.result": false,
		"gen_ai.request.prompt_token_ids": false, "gen_ai.request.stop_token_ids": false, "gen_ai.response.output_token_ids": false,
		"gen_ai.response.message": false, "gen_ai.request.messages": false, "gen_ai.response.content": false,
		// Outside the allow-list.
		"gen_ai.output.type": false, "gen_ai.conversation.id": false, "gen_ai.agent.name": false, "gen_ai.x": false,
		"gen_ai.systemx": false, "gen_ai.request": false, "gen_ai.": false, "": false,
		"http.route": false, "llm.prompt": false, "request.id": false,
	} {
		if got := IsMetadataAttr(key); got != want {
			t.Errorf("IsMetadataAttr(%q) = %v, want %v", key, got, want)
		}
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
