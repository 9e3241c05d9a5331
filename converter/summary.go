package converter

import (
	"cmp"
	"slices"
)

// collect builds per-trace member lists and summaries. Members and events
// are counted first and stored in one exactly sized array each; interval
// unions are computed one trace at a time in reused scratch slices, so the
// peak memory of this step is a few bytes per span, not a slice of
// intervals per span.
func (b *builder) collect() {
	s := &b.s
	nt := len(s.steps) + 1
	n := b.p.recs.len()
	s.members = make([][]int32, nt)
	s.events = make([][]int32, nt)
	s.kernelCount = make([]int, nt)
	s.gpuBusy = make([]int64, nt)
	s.cpuNs = make([]int64, nt)
	s.maxEnd = make([]int64, nt)
	for k := range s.maxEnd {
		if k < len(s.steps) {
			s.maxEnd[k] = s.steps[k].end
		} else {
			s.maxEnd[k] = b.p.meta.minTs
		}
	}
	nMembers := make([]int, nt)
	nEvents := make([]int, nt)
	totalMembers, totalEvents := 0, 0
	for i := int32(0); int(i) < n; i++ {
		t := s.traceOf[i]
		if t < 0 {
			continue
		}
		r := b.rec(i)
		if r.end() > s.maxEnd[t] {
			s.maxEnd[t] = r.end()
		}
		switch {
		case r.kind == kindInstant:
			nEvents[t]++
			totalEvents++
		case r.flags&flagStep != 0:
		default:
			nMembers[t]++
			totalMembers++
			if r.kind == kindKernel {
				s.kernelCount[t]++
				s.fileKernels++
			}
		}
	}
	members := make([]int32, 0, totalMembers)
	events := make([]int32, 0, totalEvents)
	for t := range nt {
		s.members[t] = members[len(members) : len(members) : len(members)+nMembers[t]]
		members = members[:len(members)+nMembers[t]]
		s.events[t] = events[len(events) : len(events) : len(events)+nEvents[t]]
		events = events[:len(events)+nEvents[t]]
	}
	for i := int32(0); int(i) < n; i++ {
		t := s.traceOf[i]
		if t < 0 {
			continue
		}
		r := b.rec(i)
		switch {
		case r.kind == kindInstant:
			s.events[t] = append(s.events[t], i)
		case r.flags&flagStep != 0:
		default:
			s.members[t] = append(s.members[t], i)
		}
	}

	var gpuIv, cpuIv, all []interval
	add := func(i int32) {
		r := b.rec(i)
		switch r.kind {
		case kindKernel, kindMemcpy, kindMemset:
			gpuIv = append(gpuIv, interval{0, r.ts, r.end()})
		case kindGPUAnnot, kindGPUOther:
		default:
			cpuIv = append(cpuIv, interval{uint64(r.pid)<<32 | uint64(r.tid), r.ts, r.end()})
		}
	}
	for t := range nt {
		gpuIv, cpuIv = gpuIv[:0], cpuIv[:0]
		if t < len(s.steps) {
			add(s.steps[t].rec)
		}
		for _, i := range s.members[t] {
			add(i)
		}
		var merged []interval
		s.gpuBusy[t], merged = unionMerge(gpuIv)
		all = append(all, merged...)
		s.cpuNs[t], _ = unionMerge(cpuIv)
	}
	s.fileBusy, _ = unionMerge(all)
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
