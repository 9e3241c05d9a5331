package converter

import (
	"cmp"
	"slices"
)

// open is a span or Python frame open on a thread during the walk.
type open struct {
	ts, end int64
	idx     int32
	trace   int32
	name    uint32
	step    bool
}

func (o *open) contains(r *record) bool {
	return o.ts <= r.ts && r.ts < o.end && r.end() <= o.end+nestTolerance
}

// threadState is the walk's state of one thread, carried from window to
// window: the stack of open spans and the stack of open Python frames.
type threadState struct {
	stack, py []open
}

// walk visits the windows in time order. In each, it sorts the records by
// thread, start, longest first, and continues each thread's walk with the
// stacks carried over from the previous windows, which is the same walk
// as over the whole file sorted that way: a span's parent is the innermost
// open span of the same trace that contains it; the innermost open Python
// frame is folded into it; an instant attaches to the innermost open span
// (of any trace: it then belongs to that span's trace). Every resolved
// span and instant goes to its trace's bucket.
func (b *builder) walk() error {
	s := &b.s
	threads := map[uint64]*threadState{}
	var ents []entry
	var order []int32 // ents sorted, as indices (entries are 80 B)
	for w := range len(s.steps) + 1 {
		var ok bool
		if ents, ok = s.win.Take(w, ents[:0]); !ok {
			return &Error{Offset: -1, Reason: "reading records from Options.Spill", Err: b.sc.Err()}
		}
		order = order[:0]
		for i := range ents {
			order = append(order, int32(i))
		}
		slices.SortFunc(order, func(x, y int32) int {
			a, c := &ents[x].rec, &ents[y].rec
			return cmp.Or(cmp.Compare(a.pid, c.pid), cmp.Compare(a.tid, c.tid), cmp.Compare(a.ts, c.ts),
				cmp.Compare(c.dur, a.dur), cmp.Compare(a.ordinal, c.ordinal))
		})
		for lo := 0; lo < len(order); {
			hi := lo + 1
			first := &ents[order[lo]].rec
			for hi < len(order) && ents[order[hi]].rec.pid == first.pid && ents[order[hi]].rec.tid == first.tid {
				hi++
			}
			key := uint64(first.pid)<<32 | uint64(first.tid)
			th := threads[key]
			if th == nil {
				th = &threadState{}
				threads[key] = th
			}
			b.walkThread(th, ents, order[lo:hi])
			lo = hi
		}
	}
	return nil
}

// walkThread continues one thread's walk over ents[order[...]].
func (b *builder) walkThread(th *threadState, ents []entry, order []int32) {
	s := &b.s
	stack, py := th.stack, th.py
	for _, k := range order {
		e := &ents[k]
		r := &e.rec
		for len(stack) > 0 && stack[len(stack)-1].end <= r.ts {
			stack = stack[:len(stack)-1]
		}
		for len(py) > 0 && py[len(py)-1].end <= r.ts {
			py = py[:len(py)-1]
		}
		if r.kind == kindInstant {
			e.trace, e.parent = s.traceAt(r.ts), -1
			for j := len(stack) - 1; j >= max(0, len(stack)-maxStackScan); j-- {
				c := &stack[j]
				if c.ts <= r.ts && r.ts <= c.end {
					e.trace, e.parent = c.trace, c.idx
					if c.step {
						e.parent = -1
					}
					break
				}
			}
			s.traces.Add(int(e.trace), *e)
			continue
		}
		if r.kind == kindPython && !b.opts.PythonSpans {
			b.p.books.omitted(omitPython, r.cat)
			py = append(py, open{ts: r.ts, end: r.end(), idx: e.idx, trace: -1, name: r.name})
			continue
		}
		if !b.opts.PythonSpans {
			for j := len(py) - 1; j >= max(0, len(py)-maxStackScan); j-- {
				if py[j].contains(r) {
					e.py = int32(py[j].name)
					break
				}
			}
		}
		if r.flags&flagStep == 0 {
			for j := len(stack) - 1; j >= max(0, len(stack)-maxStackScan); j-- {
				if stack[j].trace == e.trace && stack[j].contains(r) {
					if !stack[j].step {
						e.parent = stack[j].idx
					}
					break
				}
			}
		}
		stack = append(stack, open{ts: r.ts, end: r.end(), idx: e.idx, trace: e.trace, step: r.flags&flagStep != 0})
		s.traces.Add(int(e.trace), *e)
	}
	th.stack, th.py = stack, py
}
