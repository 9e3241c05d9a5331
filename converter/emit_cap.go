package converter

import (
	"cmp"
	"slices"
)

// dropInfo summarises the spans left out under one kept ancestor.
type dropInfo struct {
	count int64
	dur   int64
}

// capper applies MaxSpansPerTrace to one trace at a time: it keeps the
// root and the longest spans, re-parents a kept span whose parent was left
// out to its nearest kept ancestor, and totals what was left out on that
// ancestor. Memory events of a dropped span move to the same ancestor.
type capper struct {
	b       *builder
	kept    []bool             // per entry of the loaded trace
	dropped map[int32]dropInfo // by kept ancestor record (-1 = root)
	active  bool
	order   []int32
	near    []int32 // memo: nearest kept ancestor of a dropped record, +1 (0 = unknown)
	touched []int32
	chain   []int32
}

// apply decides which members of the loaded trace are kept and returns them in file
// order. When no cap applies it returns members unchanged.
func (c *capper) apply(members []int32) []int32 {
	c.active = false
	clear(c.dropped)
	limit := c.b.opts.MaxSpansPerTrace
	if c.b.v.step >= 0 && limit > 1 {
		limit-- // a step trace has its root and the rank span
	}
	if limit <= 0 || len(members)+1 <= limit {
		return members
	}
	if n := len(c.b.v.ents); len(c.kept) < n {
		c.kept = make([]bool, n)
		c.near = make([]int32, n)
	}
	if c.dropped == nil {
		c.dropped = map[int32]dropInfo{}
	}
	c.active = true
	budget := limit - 1
	c.order = append(c.order[:0], members...)
	slices.SortFunc(c.order, func(x, y int32) int {
		a, b := c.b.rec(x), c.b.rec(y)
		return cmp.Or(cmp.Compare(b.dur, a.dur), cmp.Compare(a.ordinal, b.ordinal))
	})
	for _, i := range c.order[:budget] {
		c.kept[i] = true
	}
	kept := make([]int32, 0, budget)
	for _, i := range members {
		if c.kept[i] {
			kept = append(kept, i)
			continue
		}
		anc := c.nearest(c.b.v.ents[i].parent)
		d := c.dropped[anc]
		d.count++
		d.dur += c.b.rec(i).dur
		c.dropped[anc] = d
		c.b.st.SpansDropped++
		bump(&c.b.p.books.capped, c.b.rec(i).cat)
	}
	return kept
}

// release clears the per-trace marks.
func (c *capper) release(members []int32) {
	if !c.active {
		return
	}
	for _, i := range members {
		c.kept[i] = false
	}
	for _, i := range c.touched {
		c.near[i] = 0
	}
	c.touched = c.touched[:0]
	c.active = false
}

// nearest returns p if it is kept (or the root, -1), else its nearest kept
// ancestor.
// Results are memoised per trace (with path compression), so deep chains
// of dropped spans cost linear time.
func (c *capper) nearest(p int32) int32 {
	if !c.active {
		if p >= 0 && c.b.rec(p).flags&flagStep != 0 {
			return -1
		}
		return p
	}
	c.chain = c.chain[:0]
	for p >= 0 && !c.kept[p] && c.b.rec(p).flags&flagStep == 0 {
		if m := c.near[p]; m != 0 {
			p = m - 1
			break
		}
		c.chain = append(c.chain, p)
		p = c.b.v.ents[p].parent
	}
	if p >= 0 && c.b.rec(p).flags&flagStep != 0 {
		p = -1
	}
	for _, q := range c.chain {
		c.near[q] = p + 1
		c.touched = append(c.touched, q)
	}
	return p
}

// isKept reports whether record i is emitted in the current trace.
func (c *capper) isKept(i int32) bool { return !c.active || i < 0 || c.kept[i] }
