package converter

import (
	"cmp"
	"slices"
	"sort"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
)

// nestTolerance is how far (ns) a child may outlast its parent and still
// nest under it: Kineto's clocks leave a few-ns overlaps (HTA ceils ts and
// floors ends to whole µs for the same reason).
const nestTolerance = 1000

// maxStackScan bounds how many open spans below the top of a thread's
// stack are examined for a parent, so a file with huge numbers of
// overlapping, non-nested events on one thread stays linear. Real traces
// nest far less deeply.
const maxStackScan = 512

// stepInfo is one step annotation.
type stepInfo struct {
	rec                int32
	ann                enginestep.Annotation
	start, annEnd, end int64 // raw ns
}

// linkPair is a fwdbwd link from the backward op to the forward op.
type linkPair struct{ from, to int32 }

// structure is the resolved shape of the trace.
type structure struct {
	steps      []stepInfo
	stepStarts []int64
	profile    int32 // trace index of the profile trace (== len(steps))

	traceOf  []int32 // per record: trace index, -1 = not exported
	parentOf []int32 // per record: parent record, -1 = trace root
	pyOf     []int32 // per record: folded python frame, -1 = none

	members [][]int32  // per trace: exported span records, in file order
	events  [][]int32  // per trace: instant records (span events), in file order
	links   []linkPair // sorted by from

	// per trace summaries
	kernelCount []int
	gpuBusy     []int64
	cpuNs       []int64
	maxEnd      []int64
	fileBusy    int64
	fileKernels int
}

func (b *builder) rec(i int32) *record { return b.p.recs.at(i) }

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

func contains(c, r *record) bool {
	return c.ts <= r.ts && r.ts < c.end() && r.end() <= c.end()+nestTolerance
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

func (b *builder) exportedCPU(k kind) bool {
	switch k {
	case kindCPUOther, kindUserAnnot, kindCPUOp, kindLaunch:
		return true
	case kindPython:
		return b.opts.PythonSpans
	}
	return false
}

func (b *builder) resolve() {
	s := &b.s
	n := b.p.recs.len()
	s.traceOf = make([]int32, n)
	s.parentOf = make([]int32, n)
	s.pyOf = make([]int32, n)
	stepOfRec := make(map[int32]int32, len(s.steps))
	for k, st := range s.steps {
		stepOfRec[st.rec] = int32(k)
	}
	// Pass 1: traces of CPU spans; collect the per-thread walk.
	var cpu []int32
	for i := int32(0); int(i) < n; i++ {
		s.traceOf[i], s.parentOf[i], s.pyOf[i] = -1, -1, -1
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
	// Pass 2: nesting per thread.
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
	// Pass 3: GPU work under its launch.
	launches := make(map[int64]int32)
	annots := make(map[int64]int32) // user_annotation by External id
	for i := int32(0); int(i) < n; i++ {
		r := b.rec(i)
		if r.kind == kindLaunch && r.flags&flagCorr != 0 {
			if _, dup := launches[r.link]; !dup {
				launches[r.link] = i
			}
		}
		if r.kind == kindUserAnnot && r.flags&flagExt != 0 {
			if _, dup := annots[r.link]; !dup {
				annots[r.link] = i
			}
		}
	}
	for i := int32(0); int(i) < n; i++ {
		r := b.rec(i)
		if !r.kind.gpu() {
			continue
		}
		if r.kind == kindGPUAnnot {
			// The GPU mirror of a user_annotation: same trace as the CPU
			// annotation with its External id; else by time (Kineto shifts
			// it 1 ns earlier).
			if a, ok := annots[r.link]; ok && r.flags&flagExt != 0 && s.traceOf[a] >= 0 {
				s.traceOf[i], s.parentOf[i] = s.traceOf[a], -1
			} else {
				s.traceOf[i], s.parentOf[i] = s.traceAt(r.ts+1), -1
			}
			continue
		}
		if l, ok := launches[r.link]; ok && r.flags&flagCorr != 0 {
			s.traceOf[i], s.parentOf[i] = s.traceOf[l], l
			continue
		}
		b.st.OrphanGPU++
		s.traceOf[i], s.parentOf[i] = s.traceAt(r.ts), -1
	}
	b.bindFlows()
	b.collect()
}

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
