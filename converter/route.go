package converter

import (
	"cmp"
	"slices"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/recstore"
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

// structure is what is known about the whole file once its records were
// partitioned: the steps, the small linking tables and the buckets.
//
// Traces are 0..len(steps)-1 (steps) and profile (== len(steps)). Windows
// are the same number of time ranges: window 0 is before the first step,
// window k+1 is [start of step k, start of step k+1), the last one open.
type structure struct {
	steps      []stepInfo
	stepStarts []int64
	profile    int32 // trace index of the profile trace (== len(steps))
	stepOfRec  map[int32]int32

	launches []launchTrace // by correlation id, the first launch of each
	annots   []extTrace    // user_annotations by External id, the first of each
	links    []linkPair    // sorted by from

	// Filled by partition: records of the per-thread walk (CPU spans,
	// Python frames, instants) by window; resolved spans and span events
	// by trace; GPU busy intervals by window (for fileBusy).
	win    *recstore.BucketSet[entry]
	traces *recstore.BucketSet[entry]
	gpuIv  *recstore.BucketSet[span2]

	fileBusy    int64
	fileKernels int
}

// entry is a record on its way through the buckets, with what structure
// resolution found out about it.
type entry struct {
	rec    record
	idx    int32 // index in the record store (file order of kept events)
	trace  int32 // -1 = not exported (folded Python frame)
	parent int32 // record index of the parent span (-1 = trace root); local index once the trace is loaded
	py     int32 // interned name of the folded Python frame, -1 = none
}

// span2 is a time interval.
type span2 struct{ start, end int64 }

// launchTrace is where a launch went: GPU work with its correlation id
// goes under it, into its trace.
type launchTrace struct {
	corr  int64
	idx   int32
	trace int32
}

type extTrace struct {
	ext   int64
	trace int32
	idx   int32 // the annotation's record; -1 for a step annotation (the rank span)
}

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

// cpuTrace is the trace of a CPU-side span that is not a step annotation:
// the step its start falls in, or the profile trace when it encloses a
// step annotation (an outer loop).
func (b *builder) cpuTrace(ts, end int64) int32 {
	if b.enclosesStep(ts, end) {
		return b.s.profile
	}
	return b.s.traceAt(ts)
}

// window returns the window that holds ts.
func (s *structure) window(ts int64) int { return int(s.stepAt(ts)) + 1 }

// resolve assigns every record its trace and parent: CPU spans by time,
// GPU work by correlation, instants to their enclosing span. It builds the
// linking tables from the records kept aside while parsing, then
// partitions the records (one scan of the store) and walks the windows in
// time order, leaving every exported record in its trace's bucket. It
// returns a *Error when the scratch storage fails.
func (b *builder) resolve() error {
	s := &b.s
	b.tables()
	nt := len(s.steps) + 1
	s.win = recstore.NewBucketSet[entry](b.sc, nt, b.tailCap, 3*b.tailCap)
	s.traces = recstore.NewBucketSet[entry](b.sc, nt, b.tailCap, 3*b.tailCap)
	s.gpuIv = recstore.NewBucketSet[span2](b.sc, nt, b.tailCap, 3*b.tailCap)
	if err := b.partition(); err != nil {
		return err
	}
	s.launches, s.annots = nil, nil // GPU work is routed
	if err := b.walk(); err != nil {
		return err
	}
	s.win = nil
	if err := b.busyUnion(); err != nil {
		return err
	}
	s.gpuIv = nil
	if b.sc.Err() != nil {
		return &Error{Offset: -1, Reason: "writing to Options.Spill", Err: b.sc.Err()}
	}
	return nil
}

// tables builds the launch and External id tables (sorted, first record
// of each id kept, as a map filled in file order would).
func (b *builder) tables() {
	s := &b.s
	s.launches = make([]launchTrace, 0, b.p.recs.nLaunch)
	for _, c := range b.p.recs.launches {
		for _, l := range c {
			s.launches = append(s.launches, launchTrace{corr: l.corr, idx: l.idx, trace: b.cpuTrace(l.ts, l.end)})
		}
	}
	if b.dropRecords {
		b.p.recs.launches = nil
	}
	slices.SortFunc(s.launches, func(x, y launchTrace) int {
		return cmp.Or(cmp.Compare(x.corr, y.corr), cmp.Compare(x.idx, y.idx))
	})
	s.launches = slices.CompactFunc(s.launches, func(x, y launchTrace) bool { return x.corr == y.corr })
	s.annots = s.annots[:0]
	for _, h := range b.p.recs.annots {
		if h.rec.flags&flagExt == 0 {
			continue
		}
		t, ok := s.stepOfRec[h.idx]
		idx := int32(-1)
		if !ok {
			t = b.cpuTrace(h.rec.ts, h.rec.end())
			idx = h.idx
		}
		s.annots = append(s.annots, extTrace{ext: h.rec.link, trace: t, idx: idx})
	}
	// held in file order: a stable sort keeps the first of each id first
	slices.SortStableFunc(s.annots, func(x, y extTrace) int { return cmp.Compare(x.ext, y.ext) })
	s.annots = slices.CompactFunc(s.annots, func(x, y extTrace) bool { return x.ext == y.ext })
}

func (s *structure) launchOf(corr int64) (launchTrace, bool) {
	k, ok := slices.BinarySearchFunc(s.launches, corr, func(l launchTrace, c int64) int { return cmp.Compare(l.corr, c) })
	if !ok {
		return launchTrace{}, false
	}
	return s.launches[k], true
}

// annotTrace returns the trace of the user_annotation with External id
// ext and its record (-1 for a step annotation).
func (s *structure) annotTrace(ext int64) (trace, idx int32, ok bool) {
	k, ok := slices.BinarySearchFunc(s.annots, ext, func(a extTrace, e int64) int { return cmp.Compare(a.ext, e) })
	if !ok {
		return 0, -1, false
	}
	return s.annots[k].trace, s.annots[k].idx, true
}
