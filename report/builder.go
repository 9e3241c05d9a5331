package report

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Options tune the report. The zero value is usable: see DefaultOptions
// for what zero fields become.
type Options struct {
	// Classify is the kernel classifier hook: it returns the class of a GPU
	// span (one of Classes) from its full name (cuda.kernel.name, else the
	// span name) and kineto.category. nil groups kernels by name only
	// (KernelRow.Class stays empty); with it rows are per (name, class), as
	// one short name (elementwise_kernel) can run functors of several
	// classes. The bridge wires insights.Classify here.
	Classify func(name, category string) string
	// TopKernels is the number of rows per step kind in the kernel
	// tables (default 15); the rest is summed in KernelTable.Rest.
	TopKernels int
	// LongestKernels is the number of kernel names whose longest single
	// run is kept (default 5).
	LongestKernels int
	// Checklist thresholds (see checklist.go).
	Thresholds Thresholds
}

// Thresholds decide when a checklist item is flagged.
type Thresholds struct {
	// LongKernelNs: a kernel run this long or longer is "long" (default 1 ms).
	LongKernelNs int64
	// IdleShare: a step whose GPU is idle this share of its wall time
	// is GPU-idle (default 0.5).
	IdleShare float64
	// HostWaitShare: a step whose GPU waits for the host this share of its
	// wall time is host-bound (default 0.25; needs vllm.step.gpu_idle.host_wait_ns).
	HostWaitShare float64
	// BusyShare: a step whose GPU is busy this share of its wall time is
	// GPU-bound (default 0.9).
	BusyShare float64
	// MemcpyShare: memory copies taking this share of a step's GPU span
	// time or more are flagged (default 0.1).
	MemcpyShare float64
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{TopKernels: 15, LongestKernels: 5, Thresholds: Thresholds{
		LongKernelNs: 1_000_000, IdleShare: 0.5, HostWaitShare: 0.25, BusyShare: 0.9, MemcpyShare: 0.1,
	}}
}

func (o *Options) defaults() {
	d := DefaultOptions()
	if o.TopKernels <= 0 {
		o.TopKernels = d.TopKernels
	}
	if o.LongestKernels <= 0 {
		o.LongestKernels = d.LongestKernels
	}
	t, dt := &o.Thresholds, d.Thresholds
	if t.LongKernelNs <= 0 {
		t.LongKernelNs = dt.LongKernelNs
	}
	if t.IdleShare <= 0 {
		t.IdleShare = dt.IdleShare
	}
	if t.HostWaitShare <= 0 {
		t.HostWaitShare = dt.HostWaitShare
	}
	if t.BusyShare <= 0 {
		t.BusyShare = dt.BusyShare
	}
	if t.MemcpyShare <= 0 {
		t.MemcpyShare = dt.MemcpyShare
	}
}

// Builder aggregates span batches into a Report. It is not safe for
// concurrent use: feed it from one goroutine (the converter's emit and the
// linker's Flush, called one after the other).
type Builder struct {
	opts    Options
	files   []File
	fileIdx map[string]int
	// traces maps every trace seen to its step (or -1: the profile trace)
	// and kind: batches of one trace carry its root in the first only.
	traces  map[span.TraceID]traceRef
	steps   []Step
	kernels map[kernelKey]*kernelAgg
	longest []KernelRun
	// longRuns counts kernel runs of Thresholds.LongKernelNs or longer.
	longRuns int64
	reqs     map[string]*reqAgg
	// classOf caches Classify by full name (distinct names are few).
	classOf map[string]string
	// profile holds the sums of spans outside every step, per file.
	profile []Step
	// cur is the file BeginFile started; -1: files are told apart by
	// their resource's vllm.trace.file.
	cur int
}

type traceRef struct {
	step int // index into steps; -1 = the profile trace of file
	file int
	kind string
}

type kernelKey struct{ kind, name, class string }

type kernelAgg struct {
	category          string
	calls, total, max int64
}

type reqAgg struct {
	byKind     map[string]int
	steps      int
	attributed int64
	missing    bool // a request-step span lacked vllm.request.gpu_attributed_ns
	traces     []span.TraceID
}

// NewBuilder returns an empty Builder.
func NewBuilder(opts Options) *Builder {
	opts.defaults()
	return &Builder{opts: opts, fileIdx: map[string]int{}, traces: map[span.TraceID]traceRef{},
		kernels: map[kernelKey]*kernelAgg{}, reqs: map[string]*reqAgg{}, classOf: map[string]string{}, cur: -1}
}

// BeginFile says that the converter batches added from now on are those
// of one new trace file, named name in the report (two files of the same
// base name in different directories stay apart). Without it, files are
// told apart by their resource's vllm.trace.file.
func (bd *Builder) BeginFile(name string) {
	bd.cur = bd.newFile(name)
}

// FileFailed marks the file BeginFile started as failed with err (its
// spans, if any came, stay in the report).
func (bd *Builder) FileFailed(err error) {
	if bd.cur >= 0 {
		bd.files[bd.cur].Error = err.Error()
	}
}

func (bd *Builder) newFile(name string) int {
	bd.files = append(bd.files, File{Name: strings.Clone(name)})
	bd.profile = append(bd.profile, Step{Index: -1, Kind: ProfileKind, MemPeak: -1})
	return len(bd.files) - 1
}

// ProfileKind is the step kind of activity outside every step.
const ProfileKind = "profile"

// Add aggregates one batch. It keeps nothing b points to.
func (bd *Builder) Add(b *span.Batch) error {
	for i := range b.Spans {
		s := &b.Spans[i]
		if s.Name == "vllm.request.step" && !s.Parent.IsZero() {
			bd.addRequestStep(s)
			continue
		}
		if s.Parent.IsZero() {
			if err := bd.addRoot(b.Resource, s); err != nil {
				return err
			}
			continue
		}
		ref, ok := bd.traces[s.TraceID]
		if !ok {
			// Not a trace of the converter (e.g. vLLM's own request spans).
			continue
		}
		bd.addChild(ref, s)
	}
	return nil
}

func (bd *Builder) file(res *span.Resource) int {
	name := "(unnamed)"
	var rank *int64
	gpu := ""
	if res != nil {
		if v, ok := span.Lookup(res.Attrs, "vllm.trace.file"); ok && v.Type == span.TypeString {
			name = v.Str
		}
		if v, ok := span.Lookup(res.Attrs, "vllm.rank"); ok && v.Type == span.TypeInt {
			r := v.Num
			rank = &r
		}
		if v, ok := span.Lookup(res.Attrs, "gpu.name"); ok && v.Type == span.TypeString {
			gpu = v.Str
		}
	}
	i, ok := bd.cur, bd.cur >= 0
	if !ok {
		i, ok = bd.fileIdx[name]
	}
	if !ok {
		i = bd.newFile(name)
		bd.fileIdx[bd.files[i].Name] = i
	}
	if f := &bd.files[i]; f.Rank == nil && f.GPU == "" {
		f.Rank, f.GPU = rank, strings.Clone(gpu)
	}
	return i
}

func (bd *Builder) addRoot(res *span.Resource, s *span.Span) error {
	switch {
	case s.Name == "vllm.profile":
		f := bd.file(res)
		bd.traces[s.TraceID] = traceRef{step: -1, file: f, kind: ProfileKind}
		bd.addChild(bd.traces[s.TraceID], s)
	case strings.HasPrefix(s.Name, "vllm.step."):
		f := bd.file(res)
		if _, dup := bd.traces[s.TraceID]; dup {
			return fmt.Errorf("report: step trace %s of %s seen twice", s.TraceID, bd.files[f].Name)
		}
		st := Step{File: f, Index: -1, Kind: strings.Clone(strings.TrimPrefix(s.Name, "vllm.step.")),
			TraceID: s.TraceID.String(), Start: s.Start, WallNs: s.End - s.Start, MemPeak: -1}
		for _, a := range s.Attrs {
			if !strings.HasPrefix(a.Key, "vllm.step.") {
				continue
			}
			if a.Key == AttrRequestIDs {
				st.Requests = len(a.Value.Strs)
				continue
			}
			st.Attrs = append(st.Attrs, cloneAttr(a))
		}
		if v, ok := st.Int(AttrStepIndex); ok {
			st.Index = v
		}
		bd.traces[s.TraceID] = traceRef{step: len(bd.steps), file: f, kind: st.Kind}
		bd.steps = append(bd.steps, st)
		bd.files[f].Steps++
		bd.addChild(bd.traces[s.TraceID], s)
	}
	return nil
}

func cloneAttr(a span.Attr) span.Attr {
	a.Key = strings.Clone(a.Key)
	a.Value.Str = strings.Clone(a.Value.Str)
	if a.Value.Strs != nil {
		strs := make([]string, len(a.Value.Strs))
		for i, s := range a.Value.Strs {
			strs[i] = strings.Clone(s)
		}
		a.Value.Strs = strs
	}
	if a.Value.Ints != nil {
		a.Value.Ints = append([]int64(nil), a.Value.Ints...)
	}
	return a
}

func (bd *Builder) stepOf(ref traceRef) *Step {
	if ref.step < 0 {
		return &bd.profile[ref.file]
	}
	return &bd.steps[ref.step]
}

// addChild adds one span of a converter trace (the root included, for its
// span events) to its step's sums and the kernel tables.
func (bd *Builder) addChild(ref traceRef, s *span.Span) {
	st := bd.stepOf(ref)
	for j := range s.Events {
		if s.Events[j].Name == "[memory]" {
			addMemoryEvent(st, &s.Events[j])
		}
	}
	cat := ""
	if v, ok := span.Lookup(s.Attrs, "kineto.category"); ok {
		cat = v.Str
	}
	dur := s.End - s.Start
	switch cat {
	case "kernel", "gpu_memcpy", "gpu_memset":
	case "cuda_runtime", "cuda_driver":
		switch {
		case strings.Contains(s.Name, "Synchronize"):
			st.SyncNs += dur
			st.SyncCalls++
		case strings.HasPrefix(s.Name, "cudaMalloc"), strings.HasPrefix(s.Name, "cudaFree"),
			strings.HasPrefix(s.Name, "cudaHostAlloc"), strings.HasPrefix(s.Name, "cuMemAlloc"), strings.HasPrefix(s.Name, "cuMemFree"):
			st.AllocCalls++
			st.AllocNs += dur
		}
		return
	default:
		return
	}
	st.GPUSpanNs += dur
	st.GPUSpans++
	if cat == "gpu_memcpy" {
		d := memcpyDirection(s.Name)
		st.MemcpyNs[d] += dur
		st.MemcpyCount++
		if v, ok := span.Lookup(s.Attrs, "cuda.memcpy.bytes"); ok && v.Type == span.TypeInt {
			st.MemcpyBytes[d] += v.Num
		}
	}
	k := kernelKey{kind: ref.kind, name: s.Name}
	if bd.opts.Classify != nil {
		k.class = bd.classify(s, cat)
	}
	ag := bd.kernels[k]
	if ag == nil {
		ag = &kernelAgg{category: strings.Clone(cat)}
		k.name = strings.Clone(k.name)
		bd.kernels[k] = ag
	}
	ag.calls++
	ag.total += dur
	ag.max = max(ag.max, dur)
	if cat == "kernel" {
		if dur >= bd.opts.Thresholds.LongKernelNs {
			bd.longRuns++
		}
		bd.noteLongest(KernelRun{Name: s.Name, DurNs: dur, File: ref.file, Step: st.Index, Kind: ref.kind})
	}
}

// classify classifies a GPU span by its full name, as the converter does.
func (bd *Builder) classify(s *span.Span, cat string) string {
	full := s.Name
	if v, ok := span.Lookup(s.Attrs, "cuda.kernel.name"); ok && v.Type == span.TypeString && v.Str != "" {
		full = v.Str
	}
	key := cat + "\x00" + full
	c, ok := bd.classOf[key]
	if !ok {
		c = bd.opts.Classify(full, cat)
		bd.classOf[strings.Clone(key)] = c
	}
	return c
}

// noteLongest keeps the longest run of each of the LongestKernels
// kernel names with the longest runs, longest first (ties: the earlier).
func (bd *Builder) noteLongest(r KernelRun) {
	n := bd.opts.LongestKernels
	if len(bd.longest) == n && bd.longest[n-1].DurNs >= r.DurNs {
		return
	}
	for i := range bd.longest {
		if bd.longest[i].Name == r.Name {
			if bd.longest[i].DurNs >= r.DurNs {
				return
			}
			bd.longest = append(bd.longest[:i], bd.longest[i+1:]...)
			break
		}
	}
	r.Name = strings.Clone(r.Name)
	i := sort.Search(len(bd.longest), func(i int) bool { return bd.longest[i].DurNs < r.DurNs })
	bd.longest = append(bd.longest, KernelRun{})
	copy(bd.longest[i+1:], bd.longest[i:])
	bd.longest[i] = r
	if len(bd.longest) > n {
		bd.longest = bd.longest[:n]
	}
}

// memcpyDirection reads the direction from a memcpy span's name as Kineto
// writes it ("Memcpy HtoD (Pageable -> Device)").
func memcpyDirection(name string) int {
	switch {
	case strings.Contains(name, "HtoD"):
		return 0
	case strings.Contains(name, "DtoH"):
		return 1
	case strings.Contains(name, "DtoD"):
		return 2
	}
	return 3
}

func addMemoryEvent(st *Step, e *span.Event) {
	var bytes, total, dev int64 = 0, -1, -1
	for _, a := range e.Attrs {
		if a.Value.Type != span.TypeInt {
			continue
		}
		switch a.Key {
		case "memory.bytes":
			bytes = a.Value.Num
		case "memory.total_allocated":
			total = a.Value.Num
		case "memory.device.type":
			dev = a.Value.Num
		}
	}
	if dev != 1 { // c10 DeviceType 1 = CUDA
		return
	}
	if bytes > 0 {
		st.MemAllocs++
		st.MemAllocB += bytes
	}
	if total > st.MemPeak {
		st.MemPeak = total
	}
}

func (bd *Builder) addRequestStep(s *span.Span) {
	id := ""
	if v, ok := span.Lookup(s.Attrs, AttrRequestID); ok {
		id = v.Str
	}
	if id == "" {
		return
	}
	r := bd.reqs[id]
	if r == nil {
		r = &reqAgg{byKind: map[string]int{}}
		bd.reqs[strings.Clone(id)] = r
	}
	r.steps++
	kind := "unknown"
	if v, ok := span.Lookup(s.Attrs, AttrStepKind); ok && v.Str != "" {
		kind = v.Str
	}
	if _, ok := r.byKind[kind]; !ok {
		kind = strings.Clone(kind)
	}
	r.byKind[kind]++
	if v, ok := span.Lookup(s.Attrs, AttrAttributed); ok && v.Type == span.TypeInt {
		r.attributed += v.Num
	} else {
		r.missing = true
	}
	if len(s.Links) > 0 {
		r.traces = append(r.traces, s.Links[0].TraceID)
	}
}

// Report builds the report of everything added so far.
func (bd *Builder) Report() *Report {
	r := &Report{Files: append([]File(nil), bd.files...), Classified: bd.opts.Classify != nil,
		Steps: append([]Step(nil), bd.steps...), Longest: append([]KernelRun(nil), bd.longest...),
		LongRuns: bd.longRuns}
	if r.Files == nil {
		r.Files = []File{}
	}
	if r.Steps == nil {
		r.Steps = []Step{}
	}
	r.Kernels = bd.kernelTables()
	r.Top = bd.topOverall(3)
	if r.Classified {
		r.ClassNs = map[string]int64{}
		for k, ag := range bd.kernels {
			if k.kind != ProfileKind {
				r.ClassNs[k.class] += ag.total
			}
		}
	}
	r.Requests = bd.requestRows(r)
	r.Checklist = checklist(r, bd.profile, bd.opts.Thresholds)
	return r
}

func (bd *Builder) kernelTables() []KernelTable {
	byKind := map[string]*KernelTable{}
	rows := map[string][]KernelRow{}
	names := map[[2]string]bool{}
	for k, ag := range bd.kernels {
		t := byKind[k.kind]
		if t == nil {
			t = &KernelTable{Kind: k.kind}
			byKind[k.kind] = t
		}
		t.GPUNs += ag.total
		if n := [2]string{k.kind, k.name}; !names[n] {
			names[n] = true
			t.Names++
		}
		rows[k.kind] = append(rows[k.kind], KernelRow{Name: k.name, Category: ag.category, Class: k.class,
			Calls: ag.calls, TotalNs: ag.total, MeanNs: ag.total / ag.calls, MaxNs: ag.max})
	}
	for _, s := range bd.steps {
		if t := byKind[s.Kind]; t != nil {
			t.Steps++
		}
	}
	tables := make([]KernelTable, 0, len(byKind))
	for kind, t := range byKind {
		rs := rows[kind]
		sortKernelRows(rs)
		for i := range rs {
			rs[i].GPUPct = pct(rs[i].TotalNs, t.GPUNs)
		}
		if len(rs) > bd.opts.TopKernels {
			rest := KernelRow{Name: fmt.Sprintf("(%d more)", len(rs)-bd.opts.TopKernels)}
			for _, x := range rs[bd.opts.TopKernels:] {
				rest.Calls += x.Calls
				rest.TotalNs += x.TotalNs
				rest.MaxNs = max(rest.MaxNs, x.MaxNs)
			}
			rest.MeanNs = rest.TotalNs / rest.Calls
			rest.GPUPct = pct(rest.TotalNs, t.GPUNs)
			t.Rest = rest
			rs = rs[:bd.opts.TopKernels]
		}
		t.Rows = rs
		tables = append(tables, *t)
	}
	// Kinds by GPU time, the profile trace (outside every step) last.
	sort.Slice(tables, func(i, j int) bool {
		a, b := tables[i], tables[j]
		if (a.Kind == ProfileKind) != (b.Kind == ProfileKind) {
			return b.Kind == ProfileKind
		}
		if a.GPUNs != b.GPUNs {
			return a.GPUNs > b.GPUNs
		}
		return a.Kind < b.Kind
	})
	return tables
}

// topOverall sums the GPU spans of every step kind by name and returns
// the n names with the most time.
func (bd *Builder) topOverall(n int) []KernelRow {
	type nameClass struct{ name, class string }
	by := map[nameClass]*KernelRow{}
	var gpu int64
	for k, ag := range bd.kernels {
		if k.kind == ProfileKind {
			continue
		}
		gpu += ag.total
		nc := nameClass{k.name, k.class}
		row := by[nc]
		if row == nil {
			row = &KernelRow{Name: k.name, Category: ag.category, Class: k.class}
			by[nc] = row
		}
		row.Calls += ag.calls
		row.TotalNs += ag.total
		row.MaxNs = max(row.MaxNs, ag.max)
	}
	rows := make([]KernelRow, 0, len(by))
	for _, r := range by {
		r.MeanNs = r.TotalNs / r.Calls
		r.GPUPct = pct(r.TotalNs, gpu)
		rows = append(rows, *r)
	}
	sortKernelRows(rows)
	return rows[:min(n, len(rows))]
}

// sortKernelRows orders rows by GPU time, longest first, then by name and
// class.
func sortKernelRows(rows []KernelRow) {
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].TotalNs != rows[j].TotalNs {
			return rows[i].TotalNs > rows[j].TotalNs
		}
		if rows[i].Name != rows[j].Name {
			return rows[i].Name < rows[j].Name
		}
		return rows[i].Class < rows[j].Class
	})
}

func (bd *Builder) requestRows(r *Report) []RequestRow {
	stepOf := make(map[span.TraceID]int, len(bd.traces))
	for id, ref := range bd.traces {
		if ref.step >= 0 {
			stepOf[id] = ref.step
		}
	}
	out := make([]RequestRow, 0, len(bd.reqs))
	for _, id := range slices.Sorted(maps.Keys(bd.reqs)) {
		ra := bd.reqs[id]
		row := RequestRow{ID: id, Steps: ra.steps, StepsByKind: ra.byKind}
		if !ra.missing {
			v := ra.attributed
			row.AttributedNs = &v
		}
		best := -1
		for _, tr := range ra.traces {
			i, ok := stepOf[tr]
			if ok && (best < 0 || r.Steps[i].WallNs > r.Steps[best].WallNs) {
				best = i
			}
		}
		if best >= 0 {
			s := &r.Steps[best]
			ref := &StepRef{Step: best, File: s.File, Index: s.Index, Kind: s.Kind, WallNs: s.WallNs}
			if b, ok := s.Str(AttrBottleneck); ok {
				ref.Bottleneck = &b
			}
			row.Slowest = ref
		}
		out = append(out, row)
	}
	// Most attributed GPU time first when known, else most steps.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.AttributedNs != nil) != (b.AttributedNs != nil) {
			return a.AttributedNs != nil
		}
		if a.AttributedNs != nil && *a.AttributedNs != *b.AttributedNs {
			return *a.AttributedNs > *b.AttributedNs
		}
		return a.Steps > b.Steps
	})
	return out
}

func pct(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return round(100*float64(part)/float64(whole), 2)
}
