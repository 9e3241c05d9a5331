package linker

import (
	"sort"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Request verdict attribute keys (issue 13 item 2).
const (
	// KeyGPUAttributed: on a request-step span, the request's share of the
	// step's GPU busy time (by the tokens it had in the step); on the
	// llm_request root the bridge writes, the sum over its steps.
	KeyGPUAttributed = "vllm.request.gpu_attributed_ns"
	// KeyGPUAttributedTotal: on request-step spans, the request's sum (so a
	// request whose llm_request is vLLM's also carries it).
	KeyGPUAttributedTotal = "vllm.request.gpu_attributed_total_ns"
	// KeyStepsPrefix + kind ("prefill", "decode", "mixed", …): the number
	// of the request's profiled steps of that kind.
	KeyStepsPrefix = "vllm.request.steps."
	// KeySlowestIndex and KeySlowestBottleneck: the request's longest
	// profiled step (wall time): its vllm.step.index and
	// vllm.step.bottleneck.
	KeySlowestIndex      = "vllm.request.slowest_step.index"
	KeySlowestBottleneck = "vllm.request.slowest_step.bottleneck"
)

// stepTokens returns the tokens each request assigned to s had in it:
// a decode request its share of the generation tokens (1 without counts);
// a prefill request the context tokens when it is the step's only one;
// else, when the step's context tokens are known, each prefill request
// whose prompt length is known gets it and those whose is not share what
// is left equally, unless the known prompts exceed the context tokens or
// leave some unaccounted with no request to give them to (chunked
// prefill), where all share the context tokens equally; without context
// tokens, the prompt lengths (1 where unknown).
func (l *Linker) stepTokens(s *stepRec) []int64 {
	a := s.Annotation
	tok := make([]int64, len(s.assigned))
	var prefill []int
	for i, as := range s.assigned {
		if as.phase == PhasePrefill {
			prefill = append(prefill, i)
			continue
		}
		tok[i] = 1
		if a.GenerationRequests > 0 && a.GenerationTokens > 0 {
			tok[i] = max(1, int64(a.GenerationTokens/a.GenerationRequests))
		}
	}
	ctx := int64(a.ContextTokens)
	if len(prefill) == 0 {
		return tok
	}
	if len(prefill) == 1 && ctx > 0 {
		tok[prefill[0]] = ctx
		return tok
	}
	var known int64
	var unknown []int
	for _, i := range prefill {
		if r, ok := l.tl.Request(s.assigned[i].id); ok && r.PromptTokens > 0 {
			tok[i] = int64(r.PromptTokens)
			known += tok[i]
		} else {
			tok[i] = 0
			unknown = append(unknown, i)
		}
	}
	split := func(n int64, idx []int) {
		for k, i := range idx {
			tok[i] = n / int64(len(idx))
			if int64(k) < n%int64(len(idx)) {
				tok[i]++
			}
		}
	}
	switch {
	case ctx <= 0:
		for _, i := range unknown {
			tok[i] = 1
		}
	case known <= ctx && len(unknown) > 0:
		split(ctx-known, unknown)
	case known != ctx:
		split(ctx, prefill)
	}
	return tok
}

// stepShares splits s.GPUBusyNs among s.assigned by stepTokens, exactly:
// the shares add up to the busy time (the last request gets the rounding).
func (l *Linker) stepShares(s *stepRec) []int64 {
	tok := l.stepTokens(s)
	shares := make([]int64, len(tok))
	var total int64
	for _, t := range tok {
		total += t
	}
	if total <= 0 || s.GPUBusyNs <= 0 {
		return shares
	}
	var given int64
	for i, t := range tok {
		if i == len(tok)-1 {
			shares[i] = s.GPUBusyNs - given
			break
		}
		// busy·t/total without overflow for any realistic figures (busy < 2^40 ns, t < 2^20).
		shares[i] = s.GPUBusyNs * t / total
		given += shares[i]
	}
	return shares
}

// requestVerdict sums up a request's profiled steps.
type requestVerdict struct {
	total   int64
	share   []int64 // per step of reqSteps.steps
	kinds   map[string]int64
	slowest *stepRec
}

func (l *Linker) verdictFor(rs *reqSteps, shares map[*stepRec][]int64) requestVerdict {
	v := requestVerdict{share: make([]int64, len(rs.steps)), kinds: map[string]int64{}}
	for i, s := range rs.steps {
		sh, ok := shares[s]
		if !ok {
			sh = l.stepShares(s)
			shares[s] = sh
		}
		for k, a := range s.assigned {
			if a.id == rs.req.ID {
				v.share[i] = sh[k]
				break
			}
		}
		v.total += v.share[i]
		v.kinds[StepKindName(s.Annotation.Kind)]++
		if v.slowest == nil || s.End-s.Start > v.slowest.End-v.slowest.Start {
			v.slowest = s
		}
	}
	return v
}

// appendRequest appends the request-level keys (steps by kind, slowest
// step) to attrs.
func (v *requestVerdict) appendRequest(attrs []span.Attr) []span.Attr {
	kinds := make([]string, 0, len(v.kinds))
	for k := range v.kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		attrs = append(attrs, span.Int(KeyStepsPrefix+k, v.kinds[k]))
	}
	if v.slowest != nil {
		attrs = append(attrs, span.Int(KeySlowestIndex, int64(v.slowest.Index)))
		if b := v.slowest.Bottleneck; b != "" {
			attrs = append(attrs, span.String(KeySlowestBottleneck, b))
		}
	}
	return attrs
}

// rootAttrs is what the llm_request root the bridge writes gets.
func (v *requestVerdict) rootAttrs(attrs []span.Attr) []span.Attr {
	if len(v.share) == 0 {
		return attrs
	}
	return v.appendRequest(append(attrs, span.Int(KeyGPUAttributed, v.total)))
}

// stepAttrs is what the request's i-th request-step span gets.
func (v *requestVerdict) stepAttrs(attrs []span.Attr, i int, s *stepRec) []span.Attr {
	attrs = append(attrs, span.Int(KeyGPUAttributed, v.share[i]), span.Int(KeyGPUAttributedTotal, v.total))
	if s.Bottleneck != "" {
		attrs = append(attrs, span.String("vllm.step.bottleneck", s.Bottleneck))
	}
	return v.appendRequest(attrs)
}
