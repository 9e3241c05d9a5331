package converter

import (
	"cmp"
	"slices"
)

// collect builds per-trace member lists and summaries.
func (b *builder) collect() {
	s := &b.s
	nt := len(s.steps) + 1
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
	gpuIv := make([][]interval, nt)
	cpuIv := make([][]interval, nt)
	var all []interval
	for i := int32(0); int(i) < b.p.recs.len(); i++ {
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
			s.events[t] = append(s.events[t], i)
			continue
		case r.flags&flagStep != 0:
		default:
			s.members[t] = append(s.members[t], i)
		}
		switch r.kind {
		case kindKernel, kindMemcpy, kindMemset:
			if r.kind == kindKernel {
				s.kernelCount[t]++
				s.fileKernels++
			}
			iv := interval{0, r.ts, r.end()}
			gpuIv[t] = append(gpuIv[t], iv)
			all = append(all, iv)
		case kindGPUAnnot, kindGPUOther:
		default:
			cpuIv[t] = append(cpuIv[t], interval{uint64(r.pid)<<32 | uint64(r.tid), r.ts, r.end()})
		}
	}
	for t := range nt {
		s.gpuBusy[t] = unionLen(gpuIv[t])
		s.cpuNs[t] = unionLen(cpuIv[t])
	}
	s.fileBusy = unionLen(all)
}

type interval struct {
	group      uint64
	start, end int64
}

// unionLen returns the total length of the union of intervals within each
// group, summed over groups. It sorts ivs.
func unionLen(ivs []interval) int64 {
	slices.SortFunc(ivs, func(a, c interval) int {
		return cmp.Or(cmp.Compare(a.group, c.group), cmp.Compare(a.start, c.start))
	})
	var total int64
	for i := 0; i < len(ivs); {
		g, start, end := ivs[i].group, ivs[i].start, ivs[i].end
		i++
		for i < len(ivs) && ivs[i].group == g && ivs[i].start <= end {
			end = max(end, ivs[i].end)
			i++
		}
		total += end - start
	}
	return total
}
