package converter

import (
	"cmp"
	"slices"
)

// linkPair is a fwdbwd link from the backward op to the forward op.
type linkPair struct{ from, to int32 }

// bindFlows turns fwdbwd flow pairs into links, binding each flow event to
// the first CPU span with its exact (pid, tid, ts).
func (b *builder) bindFlows() {
	if len(b.p.flows) == 0 {
		return
	}
	type key struct {
		pid, tid uint32
		ts       int64
	}
	at := make(map[key]int32, len(b.p.flows))
	for _, f := range b.p.flows {
		at[key{f.pid, f.tid, f.ts}] = -1
	}
	for i := int32(0); int(i) < b.p.recs.len(); i++ {
		r := b.rec(i)
		if b.s.traceOf[i] < 0 || r.kind.gpu() || r.kind == kindInstant {
			continue
		}
		k := key{r.pid, r.tid, r.ts}
		if v, ok := at[k]; ok && v < 0 {
			at[k] = i
		}
	}
	type ends struct{ s, f int32 }
	byID := map[uint32]*ends{}
	var order []uint32
	for _, f := range b.p.flows {
		rec := at[key{f.pid, f.tid, f.ts}]
		e := byID[f.id]
		if e == nil {
			e = &ends{-1, -1}
			byID[f.id] = e
			order = append(order, f.id)
		}
		if f.ph == 's' && e.s < 0 {
			e.s = rec
		} else if f.ph == 'f' && e.f < 0 {
			e.f = rec
		}
	}
	for _, id := range order {
		e := byID[id]
		if e.s >= 0 && e.f >= 0 {
			b.s.links = append(b.s.links, linkPair{from: e.f, to: e.s})
		}
	}
	slices.SortStableFunc(b.s.links, func(x, y linkPair) int { return cmp.Compare(x.from, y.from) })
}
