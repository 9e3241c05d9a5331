package converter

import (
	"cmp"
	"slices"
)

// assignCPU gives every CPU-side span its trace (the step its start falls
// in, or the profile trace for spans enclosing a step annotation) and
// returns the records of the per-thread walk (CPU spans, Python frames,
// instants) sorted by thread, start, longest first.
func (b *builder) assignCPU() []int32 {
	s := &b.s
	n := b.p.recs.len()
	stepOfRec := make(map[int32]int32, len(s.steps))
	for k, st := range s.steps {
		stepOfRec[st.rec] = int32(k)
	}
	var cpu []int32
	for i := int32(0); int(i) < n; i++ {
		r := b.rec(i)
		switch {
		case r.flags&flagStep != 0:
			s.traceOf[i] = stepOfRec[i]
			cpu = append(cpu, i)
		case b.exportedCPU(r.kind):
			if b.enclosesStep(r) {
				s.traceOf[i] = s.profile
			} else {
				s.traceOf[i] = s.traceAt(r.ts)
			}
			cpu = append(cpu, i)
		case r.kind == kindPython, r.kind == kindInstant:
			cpu = append(cpu, i)
		}
	}
	slices.SortFunc(cpu, func(x, y int32) int {
		a, c := b.rec(x), b.rec(y)
		return cmp.Or(cmp.Compare(a.pid, c.pid), cmp.Compare(a.tid, c.tid), cmp.Compare(a.ts, c.ts),
			cmp.Compare(c.dur, a.dur), cmp.Compare(a.ordinal, c.ordinal))
	})
	return cpu
}

// nestCPU walks each thread's events in start order with a stack of open
// spans: a span's parent is the innermost open span of the same trace that
// contains it; the innermost open Python frame is folded into it; an
// instant attaches to the innermost open span.
func (b *builder) nestCPU(cpu []int32) {
	s := &b.s
	var stack, py []int32
	for lo := 0; lo < len(cpu); {
		hi := lo + 1
		first := b.rec(cpu[lo])
		for hi < len(cpu) && b.rec(cpu[hi]).pid == first.pid && b.rec(cpu[hi]).tid == first.tid {
			hi++
		}
		stack, py = stack[:0], py[:0]
		for _, i := range cpu[lo:hi] {
			r := b.rec(i)
			for len(stack) > 0 && b.rec(stack[len(stack)-1]).end() <= r.ts {
				stack = stack[:len(stack)-1]
			}
			for len(py) > 0 && b.rec(py[len(py)-1]).end() <= r.ts {
				py = py[:len(py)-1]
			}
			if r.kind == kindInstant {
				s.traceOf[i], s.parentOf[i] = s.traceAt(r.ts), -1
				for j := len(stack) - 1; j >= max(0, len(stack)-maxStackScan); j-- {
					c := b.rec(stack[j])
					if c.ts <= r.ts && r.ts <= c.end() {
						s.traceOf[i], s.parentOf[i] = s.traceOf[stack[j]], stack[j]
						break
					}
				}
				continue
			}
			if r.kind == kindPython && !b.opts.PythonSpans {
				py = append(py, i)
				continue
			}
			if !b.opts.PythonSpans {
				for j := len(py) - 1; j >= max(0, len(py)-maxStackScan); j-- {
					if contains(b.rec(py[j]), r) {
						s.pyOf[i] = py[j]
						break
					}
				}
			}
			if r.flags&flagStep == 0 {
				for j := len(stack) - 1; j >= max(0, len(stack)-maxStackScan); j-- {
					if s.traceOf[stack[j]] == s.traceOf[i] && contains(b.rec(stack[j]), r) {
						s.parentOf[i] = stack[j]
						break
					}
				}
			}
			stack = append(stack, i)
		}
		lo = hi
	}
}
