package converter

import (
	"cmp"
	"slices"
	"sort"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
)

// stepInfo is one step annotation.
type stepInfo struct {
	rec                int32
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

func (b *builder) findSteps() {
	s := &b.s
	n := b.p.recs.len()
	var vllm, prof []stepInfo
	for i := int32(0); int(i) < n; i++ {
		r := b.rec(i)
		if r.kind != kindUserAnnot {
			continue
		}
		ann, ok := enginestep.ParseAnnotation(b.p.in.str(r.name))
		if !ok {
			continue
		}
		st := stepInfo{rec: i, ann: ann, start: r.ts, annEnd: r.end()}
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
		return cmp.Or(cmp.Compare(a.start, c.start), cmp.Compare(b.rec(a.rec).ordinal, b.rec(c.rec).ordinal))
	})
	for k := range steps {
		if k+1 < len(steps) {
			steps[k].end = steps[k+1].start
		} else {
			steps[k].end = steps[k].annEnd
		}
		b.rec(steps[k].rec).flags |= flagStep
		s.stepStarts = append(s.stepStarts, steps[k].start)
	}
	s.steps = steps
	s.profile = int32(len(steps))
}

// encloses reports whether r (not a step annotation) encloses a step
// annotation: an outer loop, which goes to the profile trace.
func (b *builder) enclosesStep(r *record) bool {
	s := &b.s
	j := sort.Search(len(s.stepStarts), func(i int) bool { return s.stepStarts[i] >= r.ts })
	return j < len(s.steps) && s.steps[j].start < r.end() && s.steps[j].annEnd <= r.end()
}
