package converter

import (
	"cmp"
	"slices"
)

// linkPair is a fwdbwd link from the backward op to the forward op, with
// what emitting it needs to know about the forward op.
type linkPair struct {
	from, to  int32 // record indices
	toTrace   int32
	toOrdinal uint32
	toStep    bool
}

type flowKey struct {
	pid, tid uint32
	ts       int64
}

// flowEnd is the first CPU span with a flow event's (pid, tid, ts).
type flowEnd struct {
	idx     int32 // -1 = none yet
	trace   int32
	ordinal uint32
	step    bool
}

// flowBinder binds fwdbwd flow events to CPU spans while the records are
// partitioned: a map from the flows' (pid, tid, ts), as small as the
// flows, filled with the first exported CPU span at each.
type flowBinder struct {
	b  *builder
	at map[flowKey]flowEnd
}

func (b *builder) newFlowBinder() *flowBinder {
	fb := &flowBinder{b: b}
	if len(b.p.flows) == 0 {
		return fb
	}
	fb.at = make(map[flowKey]flowEnd, len(b.p.flows))
	for _, f := range b.p.flows {
		fb.at[flowKey{f.pid, f.tid, f.ts}] = flowEnd{idx: -1}
	}
	return fb
}

// see offers an exported CPU span (trace known), in file order.
func (fb *flowBinder) see(e *entry) {
	if fb.at == nil {
		return
	}
	k := flowKey{e.rec.pid, e.rec.tid, e.rec.ts}
	if v, ok := fb.at[k]; ok && v.idx < 0 {
		fb.at[k] = flowEnd{idx: e.idx, trace: e.trace, ordinal: e.rec.ordinal, step: e.rec.flags&flagStep != 0}
	}
}

// finish turns fwdbwd flow pairs into links from the backward op to the
// forward op, sorted by the backward op.
func (fb *flowBinder) finish() {
	if fb.at == nil {
		return
	}
	type ends struct{ s, f flowEnd }
	byID := map[uint32]*ends{}
	var order []uint32
	for _, f := range fb.b.p.flows {
		rec := fb.at[flowKey{f.pid, f.tid, f.ts}]
		e := byID[f.id]
		if e == nil {
			e = &ends{flowEnd{idx: -1}, flowEnd{idx: -1}}
			byID[f.id] = e
			order = append(order, f.id)
		}
		if f.ph == 's' && e.s.idx < 0 {
			e.s = rec
		} else if f.ph == 'f' && e.f.idx < 0 {
			e.f = rec
		}
	}
	links := fb.b.s.links[:0]
	for _, id := range order {
		e := byID[id]
		if e.s.idx >= 0 && e.f.idx >= 0 {
			links = append(links, linkPair{from: e.f.idx, to: e.s.idx, toTrace: e.s.trace, toOrdinal: e.s.ordinal, toStep: e.s.step})
		}
	}
	slices.SortStableFunc(links, func(x, y linkPair) int { return cmp.Compare(x.from, y.from) })
	fb.b.s.links = links
}
