package vllmlog

import (
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// LLMRequestSpanName is the name of the per-request span vLLM exports
// (vllm/v1/engine/output_processor.py, OutputProcessor.do_tracing).
const LLMRequestSpanName = "llm_request"

// LLMRequestSpan is one of vLLM's llm_request spans, reduced to what the
// linker's request timeline reads (Timeline.AddLLMRequestSpan). It is the
// one model of that span: the live receiver's spans (LLMRequests) and
// OTLP/JSON files (DecodeOTLPJSON) both arrive in it.
type LLMRequestSpan struct {
	TraceID span.TraceID
	SpanID  span.SpanID
	// ParentSpanID is the caller's span (from the request's traceparent
	// header); zero when vLLM started a new trace.
	ParentSpanID span.SpanID
	// Start is the request's arrival at vLLM's input processor, End the
	// moment the frontend finished it, in Unix nanoseconds.
	Start, End int64
	// Attrs are the span's attributes that IsMetadataAttr lets through, in
	// span order: the request id, sampling parameters, token counts and
	// latencies (float seconds, exactly as vLLM reports them). Values other
	// than strings, integers, doubles, booleans and non-empty string or
	// integer arrays are skipped.
	Attrs []span.Attr
}

// metadataPrefixes and metadataKeys are the allow-list of IsMetadataAttr:
// the gen_ai namespaces that describe a request rather than its content.
var (
	metadataPrefixes = [...]string{"gen_ai.request.", "gen_ai.usage.", "gen_ai.latency.", "gen_ai.response."}
	metadataKeys     = [...]string{"gen_ai.system", "gen_ai.operation.name", "gen_ai.provider.name"}
)

// IsMetadataAttr is the bridge's one privacy policy for llm_request
// attributes: it reports whether the attribute named key may be kept,
// stored and exported. Prompts and outputs never leave the host, so the
// policy is an allow-list: a key is kept only if it is in a metadata
// namespace (gen_ai.request.*, gen_ai.usage.*, gen_ai.latency.*,
// gen_ai.response.*) or is gen_ai.system, gen_ai.operation.name or
// gen_ai.provider.name, and even there it is refused when its name marks
// content (it contains "content" or "message", or ends in "token_ids", as
// gen_ai.request.prompt_token_ids would). Everything else (gen_ai.prompt,
// gen_ai.completion, gen_ai.input.messages, gen_ai.tool.call.arguments,
// attributes from other conventions, and gen_ai keys nobody listed yet) is
// dropped.
//
// This is exactly what reached the request timeline before the policy was
// made one: the receiver's allow-list followed by the timeline's deny-list.
// A file of llm_request spans went through the deny-list alone, which also
// let gen_ai keys outside the metadata namespaces through (such as
// gen_ai.conversation.id, gen_ai.agent.name or gen_ai.output.type); those
// are now dropped there too. vLLM sets none of them.
func IsMetadataAttr(key string) bool {
	rest, ok := "", false
	for _, p := range metadataPrefixes {
		if r, found := strings.CutPrefix(key, p); found {
			rest, ok = r, true
			break
		}
	}
	if !ok {
		for _, k := range metadataKeys {
			if key == k {
				return true
			}
		}
		return false
	}
	return !namesContent(rest)
}

// namesContent reports whether the part of a key after its namespace names
// prompt or output content (gen_ai.response.message_content,
// gen_ai.request.prompt_token_ids) rather than counts, times and settings
// ("prompt" alone is no such mark: gen_ai.usage.prompt_tokens is a count).
func namesContent(rest string) bool {
	return strings.Contains(rest, "content") || strings.Contains(rest, "message") || strings.HasSuffix(rest, "token_ids")
}

// LLMRequests returns the llm_request spans found in rs, in the order they
// appear, with their attributes filtered by IsMetadataAttr. Spans with
// other names are skipped, as are spans whose ids do not have OTLP's
// lengths (the OTLP decoders refuse those anyway). It never modifies rs.
func LLMRequests(rs []*tracepb.ResourceSpans) []LLMRequestSpan {
	return llmRequests(nil, rs, LLMRequestSpanName)
}

func llmRequests(out []LLMRequestSpan, rs []*tracepb.ResourceSpans, name string) []LLMRequestSpan {
	for _, r := range rs {
		for _, ss := range r.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				if sp.GetName() != name {
					continue
				}
				if l, ok := llmRequest(sp); ok {
					out = append(out, l)
				}
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
		if !IsMetadataAttr(kv.GetKey()) {
			continue
		}
		if a, ok := toAttr(kv.GetKey(), kv.GetValue()); ok {
			l.Attrs = append(l.Attrs, a)
		}
	}
	return l, true
}

// toAttr converts an OTLP value; ok is false for kinds span.Attr does not
// carry (maps, bytes, empty or mixed arrays).
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
			if strs, ok := arrayOf(vals, func(e *commonpb.AnyValue_StringValue) string { return e.StringValue }); ok {
				return span.Strings(k, strs), true
			}
		case *commonpb.AnyValue_IntValue:
			if ints, ok := arrayOf(vals, func(e *commonpb.AnyValue_IntValue) int64 { return e.IntValue }); ok {
				return span.Ints(k, ints), true
			}
		}
	}
	return span.Attr{}, false
}

// arrayOf returns the elements of an OTLP array whose values are all of
// kind W, through get; ok is false when one is of another kind.
func arrayOf[W any, T any](vals []*commonpb.AnyValue, get func(W) T) ([]T, bool) {
	out := make([]T, len(vals))
	for i, e := range vals {
		w, ok := e.GetValue().(W)
		if !ok {
			return nil, false
		}
		out[i] = get(w)
	}
	return out, true
}
