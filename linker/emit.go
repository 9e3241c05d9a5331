package linker

import (
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

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
	if r.CompletionTokens >= 0 {
		if _, ok := span.Lookup(attrs, "gen_ai.usage.completion_tokens"); !ok {
			attrs = append(attrs, span.Int("gen_ai.usage.completion_tokens", int64(r.CompletionTokens)))
		}
	}
	attrs = append(attrs, span.String("vllm.request.source", r.Source.String()))
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

// stepSpan builds the span for one (request, step) pair: named like the
// step's kind, with the step's times, under the request's llm_request span,
// linked to the step trace's root.
func (l *Linker) stepSpan(r *Request, tr span.TraceID, parent span.SpanID, s *stepRec, ph Phase) span.Span {
	name := string(s.Annotation.Kind)
	if name == "" {
		name = "vllm.step"
	}
	attrs := s.Annotation.AppendAttrs([]span.Attr{
		span.String("gen_ai.request.id", r.ID),
		span.String("vllm.request.phase", ph.String()),
		span.Int("vllm.step.index", int64(s.Index)),
	})
	sp := span.Span{TraceID: tr, SpanID: l.childID(r.ID, tr, &s.Step), Parent: parent, Name: name,
		Kind: span.KindInternal, Start: s.Start, End: s.End, Attrs: attrs}
	if !s.TraceID.IsZero() && !s.RootSpanID.IsZero() {
		sp.Links = []span.Link{{TraceID: s.TraceID, SpanID: s.RootSpanID}}
	}
	return sp
}
