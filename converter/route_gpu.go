package converter

import (
	"cmp"
	"slices"
)

// routeGPU puts GPU work under the runtime/driver call with the same CUDA
// correlation id, in that call's trace (found in the launch table); a GPU
// activity whose launch is not in the file goes under the root of the
// step its start falls in. Kernel, memcpy and memset intervals go to the
// window of their start for the file's busy time.
func (b *builder) routeGPU(e *entry) {
	s := &b.s
	r := &e.rec
	switch {
	case r.kind == kindGPUAnnot:
		// The GPU mirror of a user_annotation: same trace as the
		// CPU annotation with its External id, nested under it (a step
		// annotation's mirror under the rank span); else by time
		// (Kineto shifts it 1 ns earlier).
		if t, idx, ok := s.annotTrace(r.link); ok && r.flags&flagExt != 0 {
			e.trace, e.parent = t, idx
		} else {
			e.trace = s.traceAt(r.ts + 1)
		}
	case r.flags&flagCorr != 0:
		if l, ok := s.launchOf(r.link); ok {
			e.trace, e.parent = l.trace, l.idx
			break
		}
		fallthrough
	default:
		b.st.OrphanGPU++
		e.trace = s.traceAt(r.ts)
	}
	switch r.kind {
	case kindKernel:
		s.fileKernels++
		fallthrough
	case kindMemcpy, kindMemset:
		s.gpuIv.Add(s.window(r.ts), span2{r.ts, r.end()})
	}
	s.traces.Add(int(e.trace), *e)
}

// busyUnion computes the file's GPU busy time: the union of all kernel,
// memcpy and memset intervals, swept window by window in start order.
func (b *builder) busyUnion() error {
	s := &b.s
	var ivs []span2
	var total, cs, ce int64
	have := false
	for w := range len(s.steps) + 1 {
		var ok bool
		if ivs, ok = s.gpuIv.Take(w, ivs[:0]); !ok {
			return &Error{Offset: -1, Reason: "reading records from Options.Spill", Err: b.sc.Err()}
		}
		slices.SortFunc(ivs, func(x, y span2) int { return cmp.Compare(x.start, y.start) })
		for _, iv := range ivs {
			if have && iv.start <= ce {
				ce = max(ce, iv.end)
				continue
			}
			if have {
				total += ce - cs
			}
			cs, ce, have = iv.start, iv.end, true
		}
	}
	if have {
		total += ce - cs
	}
	s.fileBusy = total
	return nil
}
