package converter

// nestTolerance is how far (ns) a child may outlast its parent and still
// nest under it: Kineto's clocks leave a few-ns overlaps (HTA ceils ts and
// floors ends to whole µs for the same reason).
const nestTolerance = 1000

// maxStackScan bounds how many open spans below the top of a thread's
// stack are examined for a parent, so a file with huge numbers of
// overlapping, non-nested events on one thread stays linear. Real traces
// nest far less deeply.
const maxStackScan = 512

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

func contains(c, r *record) bool {
	return c.ts <= r.ts && r.ts < c.end() && r.end() <= c.end()+nestTolerance
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

// resolve assigns every record its trace and parent: CPU spans by time,
// GPU work by correlation, instants to their enclosing span; then binds
// flows and computes per-trace summaries.
func (b *builder) resolve() {
	s := &b.s
	n := b.p.recs.len()
	s.traceOf = make([]int32, n)
	s.parentOf = make([]int32, n)
	s.pyOf = make([]int32, n)
	for i := range n {
		s.traceOf[i], s.parentOf[i], s.pyOf[i] = -1, -1, -1
	}
	cpu := b.assignCPU()
	b.nestCPU(cpu)
	b.linkGPU()
	b.bindFlows()
	b.collect()
}
