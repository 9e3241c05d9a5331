package linker

import (
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// RequestStepSpanName names every (request, step) span; its step kind is
// the attribute vllm.step.kind. It differs from the step roots' names
// (vllm.step.decode, …) so that a search by operation finds either step
// traces or request traces, never both.
const RequestStepSpanName = "vllm.request.step"

// TaskAttr is the attribute that names the task of the log file a
// request came from (package logfiles), on its llm_request root and its
// request-step spans.
const TaskAttr = "vllm.request.task"

// StepEndCutAttr is on a request-step span under vLLM's own llm_request
// that ends at the request's last token instead of at the step's end: how
// many ns of the step ran after it (the step's own times are on the step
// trace the span links to).
const StepEndCutAttr = "vllm.request.step_end_cut_ns"

// rootSpan builds the llm_request span the linker writes when vLLM's own
// is unknown: vLLM's name and kind, the gen_ai.* attributes the logs gave,
// and times from the logs (or from the steps when the logs lack them).
func (l *Linker) rootSpan(rs *reqSteps, tr span.TraceID, id span.SpanID) span.Span {
	r := &rs.req
	start, end := r.Arrival, r.Finish
	for _, s := range rs.steps {
		if start == 0 || s.Start < start {
			start = s.Start
		}
		if s.End > end {
			end = s.End
		}
	}
	attrs := make([]span.Attr, 0, len(r.Attrs)+4)
	hasID := false
	for _, a := range r.Attrs {
		if a.Key == "gen_ai.request.id" {
			hasID = true
		}
		attrs = append(attrs, a)
	}
	if !hasID {
		attrs = append(attrs, span.String("gen_ai.request.id", r.ID))
	}
	addInt := func(k string, v int) {
		if v < 0 {
			return
		}
		if _, ok := span.Lookup(attrs, k); !ok {
			attrs = append(attrs, span.Int(k, int64(v)))
		}
	}
	// vLLM's own llm_request spans use the older gen_ai.usage names; the
	// current semantic conventions say input/output tokens. Both are
	// written, so a dashboard built on either finds them.
	addInt("gen_ai.usage.prompt_tokens", r.PromptTokens)
	addInt("gen_ai.usage.input_tokens", r.PromptTokens)
	addInt("gen_ai.usage.completion_tokens", r.CompletionTokens)
	addInt("gen_ai.usage.output_tokens", r.CompletionTokens)
	if r.FinishReason != "" {
		attrs = append(attrs, span.Strings("gen_ai.response.finish_reasons", []string{r.FinishReason}))
	}
	attrs = appendLatencies(attrs, rs)
	attrs = append(attrs, span.String("vllm.request.source", r.Source.String()))
	if r.Task != "" {
		attrs = append(attrs, span.String(TaskAttr, r.Task))
	}
	if r.Aborted {
		attrs = append(attrs, span.Bool("vllm.request.aborted", true))
	}
	sp := span.Span{TraceID: tr, SpanID: id, Name: "llm_request", Kind: span.KindServer,
		Start: start, End: end, Attrs: attrs}
	if r.Aborted {
		sp.Status, sp.StatusMessage = span.StatusError, "request aborted or failed"
	}
	return sp
}

// stepSpan builds the span for one (request, step) pair: named
// RequestStepSpanName with the step's kind as vllm.step.kind, the step's times, under the request's llm_request span,
// linked to the step trace's root.
func (l *Linker) stepSpan(r *Request, tr span.TraceID, parent span.SpanID, s *stepRec, ph Phase) span.Span {
	attrs := s.Annotation.AppendAttrs([]span.Attr{
		span.String("gen_ai.request.id", r.ID),
		span.String("vllm.step.kind", StepKindName(s.Annotation.Kind)),
		span.String("vllm.request.phase", ph.String()),
		span.Int("vllm.step.index", int64(s.Index)),
	})
	if r.Task != "" {
		attrs = append(attrs, span.String(TaskAttr, r.Task))
	}
	end := s.End
	if r.HasSpan() && r.Finish > s.Start && r.Finish < end {
		// Under vLLM's own llm_request, the request's part of the step
		// in which its last token came ends with that token: the span
		// stays inside its parent (vLLM's span, from another process,
		// ends about then), and the rest of the step is said, not lost.
		attrs = append(attrs, span.Int(StepEndCutAttr, end-r.Finish))
		end = r.Finish
	}
	sp := span.Span{TraceID: tr, SpanID: l.childID(r.ID, tr, &s.Step), Parent: parent, Name: RequestStepSpanName,
		Kind: span.KindInternal, Start: s.Start, End: end, Attrs: attrs}
	if !s.TraceID.IsZero() && !s.RootSpanID.IsZero() {
		sp.Links = []span.Link{{TraceID: s.TraceID, SpanID: s.RootSpanID}}
	}
	return sp
}

// StepKindName is a step kind without its "vllm.step." prefix ("decode",
// "prefill", "mixed", …), the value of vllm.step.kind; "unknown" when the
// step has no kind.
func StepKindName(k enginestep.Kind) string { return k.Short() }

// fineRes is the coarsest time resolution a latency is derived from: a
// one-second text log time would make a 50 ms queue time meaningless.
const fineRes = int64(time.Millisecond)

// appendLatencies adds vLLM's gen_ai.latency.* attributes (seconds, as
// vLLM writes them) where the logs and the profiled steps determine them:
//
//   - e2e: the log's arrival (Received request) to its finish (Generated
//     response), both at sub-millisecond resolution (JSON log);
//   - time_in_queue: arrival to the start of the request's first step, when
//     that step was a prefill step and is known to be its first: it is not
//     the profile window's first step (the profiled step before it did not
//     serve the request), or the request arrived after the window began;
//   - time_to_first_token and time_in_model_prefill: to the end of its last
//     prefill step, when that step is followed by a decode step in the
//     window (the prefill, chunked or not, was seen whole);
//   - time_in_model_decode: first token to the log's finish.
//
// A latency the evidence does not determine is left out, never guessed.
// Only the roots the linker writes get them: a request with vLLM's own
// llm_request span has no root written by the bridge.
func appendLatencies(dst []span.Attr, rs *reqSteps) []span.Attr {
	r := &rs.req
	sec := func(k string, ns int64) {
		if ns >= 0 {
			dst = append(dst, span.Float(k, float64(ns)/1e9))
		}
	}
	arrival := r.Arrival != 0 && r.ArrivalRes > 0 && r.ArrivalRes <= fineRes
	finish := r.Finish != 0 && r.FinishRes > 0 && r.FinishRes <= fineRes && !r.Aborted
	var sched, first int64
	// The request's first step is the first it ever ran in when it is not
	// the window's first step (the step before it, profiled too, did not
	// serve the request) or when the request arrived after the window began.
	if arrival && len(rs.steps) > 0 && rs.phase[0] == PhasePrefill && rs.steps[0].Start >= r.Arrival &&
		(rs.steps[0].Start > rs.windowStart || r.Arrival >= rs.windowStart) {
		sched = rs.steps[0].Start
		for k := 1; k < len(rs.steps); k++ {
			if rs.phase[k] != PhasePrefill {
				first = rs.steps[k-1].End
				break
			}
		}
	}
	if arrival && finish {
		sec("gen_ai.latency.e2e", r.Finish-r.Arrival)
	}
	if sched != 0 {
		sec("gen_ai.latency.time_in_queue", sched-r.Arrival)
	}
	if first != 0 {
		sec("gen_ai.latency.time_to_first_token", first-r.Arrival)
		sec("gen_ai.latency.time_in_model_prefill", first-sched)
		if finish && r.Finish >= first {
			sec("gen_ai.latency.time_in_model_decode", r.Finish-first)
		}
	}
	return dst
}
