package converter

import (
	"cmp"
	"slices"
	"sort"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
)

// stepInfo is one step annotation.
type stepInfo struct {
	rec                int32  // index in the record store
	r                  record // the annotation
	ann                enginestep.Annotation
	start, annEnd, end int64 // raw ns
}

// stepAt returns the step whose [start, next start) holds ts, or -1.
func (s *structure) stepAt(ts int64) int32 {
	return int32(sort.Search(len(s.stepStarts), func(i int) bool { return s.stepStarts[i] > ts })) - 1
}

func (s *structure) traceAt(ts int64) int32 {
	if k := s.stepAt(ts); k >= 0 {
		return k
	}
	return s.profile
}

// findSteps picks the steps from the user_annotations the record store
// kept aside.
func (b *builder) findSteps() {
	s := &b.s
	var vllm, prof []stepInfo
	for _, h := range b.p.recs.annots {
		ann, ok := enginestep.ParseAnnotation(b.p.in.str(h.rec.name))
		if !ok {
			continue
		}
		st := stepInfo{rec: h.idx, r: h.rec, ann: ann, start: h.rec.ts, annEnd: h.rec.end()}
		if ann.Kind == enginestep.KindProfilerStep {
			prof = append(prof, st)
		} else {
			vllm = append(vllm, st)
		}
	}
	// vLLM's own step annotations win; ProfilerStep#N (schedule mode)
	// wraps them and is then an ordinary annotation.
	steps := vllm
	if len(steps) == 0 {
		steps = prof
	}
	slices.SortFunc(steps, func(a, c stepInfo) int {
		return cmp.Or(cmp.Compare(a.start, c.start), cmp.Compare(a.r.ordinal, c.r.ordinal))
	})
	s.stepStarts = s.stepStarts[:0]
	s.stepOfRec = make(map[int32]int32, len(steps))
	for k := range steps {
		if k+1 < len(steps) {
			steps[k].end = steps[k+1].start
		} else {
			steps[k].end = steps[k].annEnd
		}
		steps[k].r.flags |= flagStep
		s.stepOfRec[steps[k].rec] = int32(k)
		s.stepStarts = append(s.stepStarts, steps[k].start)
	}
	s.steps = steps
	s.profile = int32(len(steps))
}

// enclosesStep reports whether a span [ts, end) (not a step annotation)
// encloses a step annotation: an outer loop, which goes to the profile
// trace.
func (b *builder) enclosesStep(ts, end int64) bool {
	s := &b.s
	j := sort.Search(len(s.stepStarts), func(i int) bool { return s.stepStarts[i] >= ts })
	return j < len(s.steps) && s.steps[j].start < end && s.steps[j].annEnd <= end
}
