package receiver

import (
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// LLMRequestSpanName is the name of the per-request span vLLM exports
// (vllm/v1/engine/output_processor.py, OutputProcessor.do_tracing).
const LLMRequestSpanName = "llm_request"

// Attribute keys vLLM sets on llm_request (vllm/tracing/utils.py).
const (
	AttrRequestID                 = "gen_ai.request.id"
	AttrRequestTemperature        = "gen_ai.request.temperature"
	AttrRequestTopP               = "gen_ai.request.top_p"
	AttrRequestMaxTokens          = "gen_ai.request.max_tokens"
	AttrRequestN                  = "gen_ai.request.n"
	AttrUsagePromptTokens         = "gen_ai.usage.prompt_tokens"
	AttrUsageCompletionTokens     = "gen_ai.usage.completion_tokens"
	AttrLatencyTimeInQueue        = "gen_ai.latency.time_in_queue"
	AttrLatencyTimeToFirstToken   = "gen_ai.latency.time_to_first_token"
	AttrLatencyE2E                = "gen_ai.latency.e2e"
	AttrLatencyTimeInScheduler    = "gen_ai.latency.time_in_scheduler"
	AttrLatencyTimeInModelPrefill = "gen_ai.latency.time_in_model_prefill"
	AttrLatencyTimeInModelDecode  = "gen_ai.latency.time_in_model_decode"
	AttrLatencyTimeInModelInfer   = "gen_ai.latency.time_in_model_inference"
	attrServiceName               = "service.name"
)

// Float is an optional float64: Valid is false when the attribute was
// absent or not a number.
type Float struct {
	Value float64
	Valid bool
}

// Int is an optional int64: Valid is false when the attribute was absent
// or not an integer.
type Int struct {
	Value int64
	Valid bool
}

// LLMRequestSpan is one vLLM llm_request span, flattened for the request
// timeline. It is the shape the linker consumes; it refers to nothing
// outside this package but span's id types.
//
// Times are Unix nanoseconds as the span carries them: Start is the
// request's arrival at vLLM's input processor, End the moment the frontend
// finished it. Latencies are float seconds, exactly as vLLM reports them.
// Fields vLLM did not set (older versions, or sampling parameters the
// request did not give) have Valid false.
type LLMRequestSpan struct {
	TraceID span.TraceID
	SpanID  span.SpanID
	// ParentSpanID is the caller's span (from the request's traceparent
	// header); zero when vLLM started a new trace.
	ParentSpanID span.SpanID
	Start, End   int64
	// ServiceName is the resource's service.name ("" when absent).
	ServiceName string
	// RequestID is gen_ai.request.id: vLLM's external request id
	// ("chatcmpl-…", "cmpl-…-0"); before v0.12 the internal one. "" when
	// absent.
	RequestID string

	// Sampling parameters, when the request set them.
	Temperature, TopP Float
	MaxTokens, N      Int

	// Token usage.
	PromptTokens, CompletionTokens Int

	// Latencies in seconds (gen_ai.latency.*).
	TimeInQueue, TimeToFirstToken, E2E, TimeInScheduler Float
	TimeInModelPrefill, TimeInModelDecode               Float
	TimeInModelInference                                Float

	// Attrs are the span's gen_ai.* metadata attributes as received
	// (gen_ai.request.*, gen_ai.usage.*, gen_ai.latency.*,
	// gen_ai.response.*, gen_ai.system, gen_ai.operation.name,
	// gen_ai.provider.name), in span order, for consumers that take
	// attributes rather than the fields above (linker.Timeline's
	// AddLLMRequestSpan). Content attributes (prompts, completions,
	// messages) are never copied here, and values other than strings,
	// integers, doubles, booleans and string or integer arrays are skipped.
	Attrs []span.Attr
}

// isMetadataAttr reports whether a gen_ai.* key is request metadata rather
// than content.
func isMetadataAttr(k string) bool {
	for _, p := range []string{"gen_ai.request.", "gen_ai.usage.", "gen_ai.latency.", "gen_ai.response."} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	switch k {
	case "gen_ai.system", "gen_ai.operation.name", "gen_ai.provider.name":
		return true
	}
	return false
}

// toAttr converts an OTLP value; ok is false for kinds span.Attr does not
// carry (maps, bytes, mixed arrays).
func toAttr(k string, v *commonpb.AnyValue) (span.Attr, bool) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return span.String(k, x.StringValue), true
	case *commonpb.AnyValue_IntValue:
		return span.Int(k, x.IntValue), true
	case *commonpb.AnyValue_DoubleValue:
		return span.Float(k, x.DoubleValue), true
	case *commonpb.AnyValue_BoolValue:
		return span.Bool(k, x.BoolValue), true
	case *commonpb.AnyValue_ArrayValue:
		vals := x.ArrayValue.GetValues()
		if len(vals) == 0 {
			return span.Attr{}, false
		}
		switch vals[0].GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			strs := make([]string, len(vals))
			for i, e := range vals {
				s, ok := e.GetValue().(*commonpb.AnyValue_StringValue)
				if !ok {
					return span.Attr{}, false
				}
				strs[i] = s.StringValue
			}
			return span.Strings(k, strs), true
		case *commonpb.AnyValue_IntValue:
			ints := make([]int64, len(vals))
			for i, e := range vals {
				n, ok := e.GetValue().(*commonpb.AnyValue_IntValue)
				if !ok {
					return span.Attr{}, false
				}
				ints[i] = n.IntValue
			}
			return span.Ints(k, ints), true
		}
	}
	return span.Attr{}, false
}

// LLMRequests returns the llm_request spans found in rs, in the order they
// appear. Spans with other names are skipped, as are spans whose ids do not
// have OTLP's lengths (the receiver refuses those anyway). It never
// modifies rs.
func LLMRequests(rs []*tracepb.ResourceSpans) []LLMRequestSpan {
	var out []LLMRequestSpan
	for _, r := range rs {
		service := ""
		for _, kv := range r.GetResource().GetAttributes() {
			if kv.GetKey() == attrServiceName {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range r.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				if sp.GetName() != LLMRequestSpanName {
					continue
				}
				l, ok := llmRequest(sp)
				if !ok {
					continue
				}
				l.ServiceName = service
				out = append(out, l)
			}
		}
	}
	return out
}

func llmRequest(sp *tracepb.Span) (LLMRequestSpan, bool) {
	var l LLMRequestSpan
	if len(sp.GetTraceId()) != len(l.TraceID) || len(sp.GetSpanId()) != len(l.SpanID) {
		return l, false
	}
	switch len(sp.GetParentSpanId()) {
	case 0:
	case len(l.ParentSpanID):
		copy(l.ParentSpanID[:], sp.GetParentSpanId())
	default:
		return l, false
	}
	copy(l.TraceID[:], sp.GetTraceId())
	copy(l.SpanID[:], sp.GetSpanId())
	l.Start = int64(sp.GetStartTimeUnixNano())
	l.End = int64(sp.GetEndTimeUnixNano())
	for _, kv := range sp.GetAttributes() {
		v := kv.GetValue()
		if isMetadataAttr(kv.GetKey()) {
			if a, ok := toAttr(kv.GetKey(), v); ok {
				l.Attrs = append(l.Attrs, a)
			}
		}
		switch kv.GetKey() {
		case AttrRequestID:
			l.RequestID = v.GetStringValue()
		case AttrRequestTemperature:
			l.Temperature = toFloat(v)
		case AttrRequestTopP:
			l.TopP = toFloat(v)
		case AttrRequestMaxTokens:
			l.MaxTokens = toInt(v)
		case AttrRequestN:
			l.N = toInt(v)
		case AttrUsagePromptTokens:
			l.PromptTokens = toInt(v)
		case AttrUsageCompletionTokens:
			l.CompletionTokens = toInt(v)
		case AttrLatencyTimeInQueue:
			l.TimeInQueue = toFloat(v)
		case AttrLatencyTimeToFirstToken:
			l.TimeToFirstToken = toFloat(v)
		case AttrLatencyE2E:
			l.E2E = toFloat(v)
		case AttrLatencyTimeInScheduler:
			l.TimeInScheduler = toFloat(v)
		case AttrLatencyTimeInModelPrefill:
			l.TimeInModelPrefill = toFloat(v)
		case AttrLatencyTimeInModelDecode:
			l.TimeInModelDecode = toFloat(v)
		case AttrLatencyTimeInModelInfer:
			l.TimeInModelInference = toFloat(v)
		}
	}
	return l, true
}

// toFloat accepts double and int values (Python's SDK writes an int for a
// float attribute that happens to be an int, e.g. temperature=1).
func toFloat(v *commonpb.AnyValue) Float {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_DoubleValue:
		return Float{Value: x.DoubleValue, Valid: true}
	case *commonpb.AnyValue_IntValue:
		return Float{Value: float64(x.IntValue), Valid: true}
	}
	return Float{}
}

// toInt accepts int values, and double values that are whole numbers.
func toInt(v *commonpb.AnyValue) Int {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_IntValue:
		return Int{Value: x.IntValue, Valid: true}
	case *commonpb.AnyValue_DoubleValue:
		f := x.DoubleValue
		if f == float64(int64(f)) && f >= -1<<53 && f <= 1<<53 {
			return Int{Value: int64(f), Valid: true}
		}
	}
	return Int{}
}
