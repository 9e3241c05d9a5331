package converter

import (
	"cmp"
	"slices"
)

// traceView is one trace, loaded from its bucket: the only records in
// memory while it is emitted.
type traceView struct {
	ents    []entry // file order; parent is a local index (-1 = root)
	members []int32 // exported span entries, in file order
	events  []int32 // instant entries (span events), in file order
	step    int32   // the step annotation's entry, -1 = none

	kernelCount int
	gpuBusy     int64
	cpuNs       int64
	maxEnd      int64

	gpuIv, cpuIv []interval // scratch for the interval unions
	keys         []uint64   // scratch for the sort into file order
}

// rec returns the record of local entry i.
func (b *builder) rec(i int32) *record { return &b.v.ents[i].rec }

// local returns the local index of record idx in the loaded trace, or -1.
func (v *traceView) local(idx int32) int32 {
	k, ok := slices.BinarySearchFunc(v.ents, idx, func(e entry, i int32) int { return cmp.Compare(e.idx, i) })
	if !ok {
		return -1
	}
	return int32(k)
}

// load reads trace t's bucket into b.v, sorts it into file order, turns
// parents into local indices and computes the trace's summaries.
func (b *builder) load(t int32) error {
	s, v := &b.s, &b.v
	var ok bool
	if v.ents, ok = s.traces.Take(int(t), v.ents[:0]); !ok {
		return &Error{Offset: -1, Reason: "reading records from Options.Spill", Err: b.sc.Err()}
	}
	v.sortByIndex()
	b.st.LargestTrace = max(b.st.LargestTrace, int64(len(v.ents)))
	v.members, v.events, v.step = v.members[:0], v.events[:0], -1
	v.kernelCount = 0
	if t < s.profile {
		v.maxEnd = s.steps[t].end
	} else {
		v.maxEnd = b.p.meta.minTs
	}
	for i := range v.ents {
		e := &v.ents[i]
		if e.parent >= 0 {
			e.parent = v.local(e.parent)
		}
		r := &e.rec
		if r.end() > v.maxEnd {
			v.maxEnd = r.end()
		}
		switch {
		case r.kind == kindInstant:
			v.events = append(v.events, int32(i))
		case r.flags&flagStep != 0:
			v.step = int32(i)
		default:
			v.members = append(v.members, int32(i))
			if r.kind == kindKernel {
				v.kernelCount++
			}
		}
	}
	v.collect()
	return nil
}

// sortByIndex puts the entries into file order without moving an 80 B
// entry more than once: it sorts (record index, position) keys, then
// applies the permutation in place, cycle by cycle.
func (v *traceView) sortByIndex() {
	const done = 1 << 31
	keys := v.keys[:0]
	for i := range v.ents {
		keys = append(keys, uint64(uint32(v.ents[i].idx))<<32|uint64(i))
	}
	slices.Sort(keys)
	for start := range keys {
		if keys[start]&done != 0 {
			continue
		}
		tmp := v.ents[start]
		k := start
		for {
			keys[k] |= done
			j := int(uint32(keys[k]) &^ done)
			if j == start {
				v.ents[k] = tmp
				break
			}
			v.ents[k] = v.ents[j]
			k = j
		}
	}
	v.keys = keys
}

// collect computes the trace's GPU busy time (union of kernel, memcpy and
// memset intervals) and CPU time (per thread, union of its CPU span
// intervals, the step annotation included; summed over threads).
func (v *traceView) collect() {
	v.gpuIv, v.cpuIv = v.gpuIv[:0], v.cpuIv[:0]
	add := func(r *record) {
		switch r.kind {
		case kindKernel, kindMemcpy, kindMemset:
			v.gpuIv = append(v.gpuIv, interval{0, r.ts, r.end()})
		case kindGPUAnnot, kindGPUOther:
		default:
			v.cpuIv = append(v.cpuIv, interval{uint64(r.pid)<<32 | uint64(r.tid), r.ts, r.end()})
		}
	}
	if v.step >= 0 {
		add(&v.ents[v.step].rec)
	}
	for _, i := range v.members {
		add(&v.ents[i].rec)
	}
	v.gpuBusy, _ = unionMerge(v.gpuIv)
	v.cpuNs, _ = unionMerge(v.cpuIv)
}

type interval struct {
	group      uint64
	start, end int64
}

// unionMerge returns the total length of the union of intervals within
// each group, summed over groups, and the union itself (disjoint
// intervals, sorted by group and start), written over the front of ivs.
func unionMerge(ivs []interval) (int64, []interval) {
	slices.SortFunc(ivs, func(a, c interval) int {
		return cmp.Or(cmp.Compare(a.group, c.group), cmp.Compare(a.start, c.start))
	})
	var total int64
	out := 0
	for i := 0; i < len(ivs); {
		g, start, end := ivs[i].group, ivs[i].start, ivs[i].end
		i++
		for i < len(ivs) && ivs[i].group == g && ivs[i].start <= end {
			end = max(end, ivs[i].end)
			i++
		}
		total += end - start
		ivs[out] = interval{g, start, end}
		out++
	}
	return total, ivs[:out]
}
