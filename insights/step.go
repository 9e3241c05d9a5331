package insights

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configerr"
)

// OpKind is what a GPU activity is.
type OpKind uint8

// GPU activity kinds.
const (
	OpKernel OpKind = iota
	OpMemcpy
	OpMemset
)

// CopyDir is a memory copy's direction.
type CopyDir uint8

// Copy directions; CopyOther (host to host, unknown) is counted in no
// direction's figures.
const (
	CopyHtoD CopyDir = iota
	CopyDtoH
	CopyDtoD
	CopyOther
)

// CopyDirection reads a Kineto memcpy name ("Memcpy HtoD (Pageable ->
// Device)", "Memcpy DtoD (Device -> Device)", "Memcpy PtoP (Device ->
// Device)"): peer-to-peer counts as device to device.
func CopyDirection(name string) CopyDir {
	for i := 0; i+4 <= len(name); i++ {
		switch name[i : i+4] {
		case "HtoD":
			return CopyHtoD
		case "DtoH":
			return CopyDtoH
		case "DtoD", "PtoP":
			return CopyDtoD
		}
	}
	return CopyOther
}

// GPUOp is one kernel, memcpy or memset of a step.
type GPUOp struct {
	// Start and End are ns (any common clock, the launch's included).
	Start, End int64
	Kind       OpKind
	Class      Class
	// Key identifies Name (same name, same key) for the top kernels; Name
	// is the name reported (a short name).
	Key  uint64
	Name string
	// Bytes and Dir: memcpy only (Bytes 0 when the trace does not say).
	Bytes int64
	Dir   CopyDir
	// Launch identifies the CPU runtime call that launched the op (a
	// CUDA graph launch has many ops); LaunchStart and LaunchEnd are its
	// CPU start and end. Launched is false when the launch is not in the
	// trace.
	Launched               bool
	Launch                 uint64
	LaunchStart, LaunchEnd int64
}

// CPUKind is what a CPU span is, for the CPU time split.
type CPUKind uint8

// CPU kinds. The split partitions the step's CPU time (per thread the
// union of all its spans, summed over threads): cuda_runtime is time in
// runtime/driver calls, aten time in ops outside those calls, python the
// rest (the interpreter and vLLM's own code between ops: scheduling,
// input preparation, the sampler's host side).
const (
	CPUPython   CPUKind = iota // python_function spans: counted as python
	CPUAten                    // cpu_op: aten and other dispatcher ops
	CPURuntime                 // cuda_runtime / cuda_driver calls
	CPUOther                   // anything else on a CPU thread (the step annotation, user annotations): python
	numCPUKinds = 3
)

// Bottleneck is a step's one-word verdict.
type Bottleneck uint8

// Bottlenecks (see Thresholds and the package README for the rule).
const (
	BottleneckGPUCompute Bottleneck = iota
	BottleneckLaunchBound
	BottleneckCommunication
	BottleneckMemoryCopy
	BottleneckHost
)

var bottleneckNames = [...]string{"gpu_compute", "launch_bound", "communication", "memory_copy", "host"}

func (b Bottleneck) String() string {
	if int(b) < len(bottleneckNames) {
		return bottleneckNames[b]
	}
	return "host"
}

// Thresholds are the bottleneck rule's and the idle breakdown's numbers.
// The yaml keys are the user's, under the daemon's convert.thresholds
// section; Validate checks them.
type Thresholds struct {
	// KernelWaitNs: an idle gap shorter than this, before GPU work that was
	// launched before the gap began, is kernel wait (HTA's
	// consecutive_kernel_delay, 30 in the trace's µs).
	KernelWaitNs int64 `yaml:"kernel_wait_ns"`
	// MinBusyRatio: below this GPU busy / step wall time the GPU is
	// starved and the step is launch_bound or host.
	MinBusyRatio float64 `yaml:"min_busy_ratio"`
	// HostGapShare: a starved step whose longest idle gap is at least this
	// share of its idle time is host (one long stall on the CPU side).
	HostGapShare float64 `yaml:"host_gap_share"`
	// ShortOpNs: otherwise a starved step whose GPU ops average less than
	// this is launch_bound (many small kernels launched one by one, the GPU
	// idle a little between each), else host.
	ShortOpNs int64 `yaml:"short_op_ns"`
	// CommunicationShare and MemcpyShare: a busy step whose GPU time is at
	// least this share communication (memcpy) is communication
	// (memory_copy).
	CommunicationShare float64 `yaml:"communication_share"`
	MemcpyShare        float64 `yaml:"memcpy_share"`
}

// DefaultThresholds returns the thresholds used unless configured.
func DefaultThresholds() Thresholds {
	return Thresholds{
		KernelWaitNs:       30_000,
		MinBusyRatio:       0.5,
		HostGapShare:       0.5,
		ShortOpNs:          20_000,
		CommunicationShare: 0.3,
		MemcpyShare:        0.3,
	}
}

// Validate reports the first threshold out of its range: the times must be
// positive, the ratios and shares in (0, 1].
func (th Thresholds) Validate() error {
	for _, d := range []struct {
		key string
		v   int64
	}{{"kernel_wait_ns", th.KernelWaitNs}, {"short_op_ns", th.ShortOpNs}} {
		if d.v <= 0 {
			return &configerr.Error{Component: "insights", Key: d.key, Reason: fmt.Sprintf("%d must be > 0 (ns)", d.v)}
		}
	}
	for _, r := range []struct {
		key string
		v   float64
	}{{"min_busy_ratio", th.MinBusyRatio}, {"host_gap_share", th.HostGapShare}, {"communication_share", th.CommunicationShare}, {"memcpy_share", th.MemcpyShare}} {
		if !(r.v > 0 && r.v <= 1) {
			return &configerr.Error{Component: "insights", Key: r.key, Reason: fmt.Sprintf("%g is outside (0, 1]", r.v)}
		}
	}
	return nil
}

// Step is the verdict on one step. All times are ns.
type Step struct {
	// GPUTime is the summed duration of the step's GPU ops by class;
	// GPUSpanNs their sum (overlaps counted twice), Ops their number.
	GPUTime   [numClasses]int64
	GPUSpanNs int64
	Ops       int
	// BusyNs is the union of the ops' intervals; IdleNs is
	// max(0, wall - BusyNs), split into HostWaitNs + KernelWaitNs +
	// OtherIdleNs.
	WallNs, BusyNs, IdleNs              int64
	HostWaitNs, KernelWaitNs, OtherIdle int64
	// LongestGapNs is the longest idle gap (clipped to the step).
	LongestGapNs int64
	// CopyBytes and CopyNs by CopyDir (CopyOther unused).
	CopyBytes, CopyNs [3]int64
	// Launch delays (op start - launch end, at least 0; the first op of
	// each launch): their number and nearest-rank p50 and p99.
	Launches                       int
	LaunchDelayP50, LaunchDelayP99 int64
	// CPUNs by CPUKind (python, aten, cuda_runtime): a partition of
	// CPUTotalNs, the per-thread union of every CPU span, summed over
	// threads (the converter's vllm.step.cpu_ns).
	CPUNs      [numCPUKinds]int64
	CPUTotalNs int64
	// TopKernels: names of up to three kernels longest by total time.
	TopKernels [3]string
	NTop       int
	// Memory from [memory] events (HasMemory false when the step has none):
	// the highest "Total Allocated" seen and the sum of positive "Bytes".
	HasMemory                bool
	PeakAllocated, Allocated int64
	// Tokens (0 = unknown) and GPU busy ns per token.
	Tokens        int64
	GPUNsPerToken int64
	Bottleneck    Bottleneck
}

type cpuSpan struct {
	kind       CPUKind
	thread     uint64
	start, end int64
}

type kernelTotal struct {
	name  string
	total int64
	first int // order of first appearance (ties)
}

// Analyzer computes Steps, reusing its scratch from one step to the next.
// It is not safe for concurrent use.
type Analyzer struct {
	th      Thresholds
	ops     []GPUOp
	cpu     []cpuSpan
	delays  []int64
	seen    map[uint64]struct{}
	totals  map[uint64]int
	kernels []kernelTotal
	mem     bool
	peak    int64
	alloc   int64
}

// NewAnalyzer returns an Analyzer using th.
func NewAnalyzer(th Thresholds) *Analyzer {
	return &Analyzer{th: th, seen: map[uint64]struct{}{}, totals: map[uint64]int{}}
}

// Reset forgets the step added so far.
func (a *Analyzer) Reset() {
	a.ops, a.cpu = a.ops[:0], a.cpu[:0]
	a.mem, a.peak, a.alloc = false, 0, 0
}

// AddGPU adds one GPU op of the step.
func (a *Analyzer) AddGPU(op GPUOp) { a.ops = append(a.ops, op) }

// AddCPU adds one CPU span of the step, on thread.
func (a *Analyzer) AddCPU(kind CPUKind, thread uint64, start, end int64) {
	if kind <= CPUOther && end > start {
		a.cpu = append(a.cpu, cpuSpan{kind, thread, start, end})
	}
}

// AddMemory adds one [memory] event: its "Total Allocated" (negative =
// absent) and "Bytes".
func (a *Analyzer) AddMemory(totalAllocated, bytes int64) {
	if !a.mem || totalAllocated > a.peak {
		a.peak = max(totalAllocated, 0)
	}
	a.mem = true
	if bytes > 0 {
		a.alloc += bytes
	}
}

// Analyze returns the verdict on the step added since Reset, whose wall
// time is [start, end]; tokens is the step's token count (0 = unknown).
func (a *Analyzer) Analyze(start, end, tokens int64) Step {
	var s Step
	s.WallNs = max(0, end-start)
	s.Tokens = max(0, tokens)
	a.gpuFigures(&s)
	a.idle(&s, start, end)
	a.launchDelays(&s)
	a.cpuFigures(&s)
	a.topKernels(&s)
	if a.mem {
		s.HasMemory, s.PeakAllocated, s.Allocated = true, a.peak, a.alloc
	}
	if s.Tokens > 0 {
		s.GPUNsPerToken = s.BusyNs / s.Tokens
	}
	s.Bottleneck = a.th.bottleneck(&s)
	return s
}

func (a *Analyzer) gpuFigures(s *Step) {
	for i := range a.ops {
		op := &a.ops[i]
		d := max(0, op.End-op.Start)
		c := op.Class
		if c >= numClasses {
			c = ClassOther
		}
		s.GPUTime[c] += d
		s.GPUSpanNs += d
		if op.Kind == OpMemcpy && op.Dir < CopyOther {
			s.CopyBytes[op.Dir] += op.Bytes
			s.CopyNs[op.Dir] += d
		}
	}
	s.Ops = len(a.ops)
}

// idle computes the union of the ops (BusyNs) and splits the idle time
// of [start, end] the way HTA's idle-time breakdown splits a stream's
// gaps, on the device as a whole: a gap before GPU work whose launch
// began after the gap began is host wait; else a gap shorter than
// KernelWaitNs is kernel wait; else other. The gap after the last op is
// host wait (nothing more was launched in the step); a gap before an op
// with no launch in the trace is kernel wait or other by its length.
func (a *Analyzer) idle(s *Step, start, end int64) {
	slices.SortFunc(a.ops, func(x, y GPUOp) int {
		return cmp.Or(cmp.Compare(x.Start, y.Start), cmp.Compare(x.LaunchStart, y.LaunchStart))
	})
	var busy, hw, kw, other, longest int64
	gap := func(gs, ge int64, next *GPUOp) {
		gs, ge = max(gs, start), min(ge, end)
		if ge <= gs {
			return
		}
		d := ge - gs
		longest = max(longest, d)
		switch {
		case next == nil || (next.Launched && next.LaunchStart > gs):
			hw += d
		case d < a.th.KernelWaitNs:
			kw += d
		default:
			other += d
		}
	}
	prevEnd := start
	for i := 0; i < len(a.ops); {
		first := &a.ops[i]
		cs, ce := first.Start, max(first.End, first.Start)
		i++
		for i < len(a.ops) && a.ops[i].Start <= ce {
			ce = max(ce, a.ops[i].End)
			i++
		}
		gap(prevEnd, cs, first)
		busy += ce - cs
		prevEnd = max(prevEnd, ce)
	}
	gap(prevEnd, end, nil)
	s.BusyNs = busy
	s.IdleNs = max(0, s.WallNs-busy)
	s.LongestGapNs = min(longest, s.IdleNs)
	// The gaps partition the window less the busy time inside it; busy
	// time outside the window (clock skew) makes them exceed IdleNs, in
	// which case kernel wait, then host wait, give way so that the three
	// still sum to IdleNs.
	if excess := hw + kw + other - s.IdleNs; excess > 0 {
		cut := min(excess, other)
		other -= cut
		excess -= cut
		cut = min(excess, kw)
		kw -= cut
		excess -= cut
		hw -= excess
	}
	s.HostWaitNs, s.KernelWaitNs, s.OtherIdle = hw, kw, s.IdleNs-hw-kw
}

func (a *Analyzer) launchDelays(s *Step) {
	a.delays = a.delays[:0]
	clear(a.seen)
	for i := range a.ops { // in start order: the first op of each launch
		op := &a.ops[i]
		if !op.Launched || op.Kind != OpKernel {
			continue
		}
		if _, ok := a.seen[op.Launch]; ok {
			continue
		}
		a.seen[op.Launch] = struct{}{}
		a.delays = append(a.delays, max(0, op.Start-op.LaunchEnd))
	}
	s.Launches = len(a.delays)
	if len(a.delays) == 0 {
		return
	}
	slices.Sort(a.delays)
	s.LaunchDelayP50 = nearestRank(a.delays, 50)
	s.LaunchDelayP99 = nearestRank(a.delays, 99)
}

// nearestRank returns the p-th percentile of sorted v: its
// ceil(p/100·n)-th value.
func nearestRank(v []int64, p int) int64 {
	k := (p*len(v) + 99) / 100
	return v[max(k, 1)-1]
}

// run is a union of intervals added in start order.
type run struct {
	start, end int64
	open       bool
}

// add extends the run or starts a new one, returning the length of the
// interval it closed.
func (r *run) add(start, end int64) int64 {
	if r.open && start <= r.end {
		r.end = max(r.end, end)
		return 0
	}
	n := r.close()
	r.start, r.end, r.open = start, end, true
	return n
}

func (r *run) close() int64 {
	if !r.open {
		return 0
	}
	r.open = false
	return r.end - r.start
}

func (a *Analyzer) cpuFigures(s *Step) {
	slices.SortFunc(a.cpu, func(x, y cpuSpan) int {
		return cmp.Or(cmp.Compare(x.thread, y.thread), cmp.Compare(x.start, y.start))
	})
	var all, ops, rt run // every span; aten ops and runtime calls; runtime calls
	var nAll, nOps, nRT int64
	for i := range a.cpu {
		c := &a.cpu[i]
		if i > 0 && c.thread != a.cpu[i-1].thread {
			nAll, nOps, nRT = nAll+all.close(), nOps+ops.close(), nRT+rt.close()
		}
		nAll += all.add(c.start, c.end)
		if c.kind == CPUAten || c.kind == CPURuntime {
			nOps += ops.add(c.start, c.end)
		}
		if c.kind == CPURuntime {
			nRT += rt.add(c.start, c.end)
		}
	}
	nAll, nOps, nRT = nAll+all.close(), nOps+ops.close(), nRT+rt.close()
	s.CPUTotalNs = nAll
	s.CPUNs = [numCPUKinds]int64{nAll - nOps, nOps - nRT, nRT}
}

func (a *Analyzer) topKernels(s *Step) {
	clear(a.totals)
	a.kernels = a.kernels[:0]
	for i := range a.ops {
		op := &a.ops[i]
		if op.Kind != OpKernel {
			continue
		}
		k, ok := a.totals[op.Key]
		if !ok {
			k = len(a.kernels)
			a.totals[op.Key] = k
			a.kernels = append(a.kernels, kernelTotal{name: op.Name, first: k})
		}
		a.kernels[k].total += max(0, op.End-op.Start)
	}
	slices.SortFunc(a.kernels, func(x, y kernelTotal) int {
		return cmp.Or(cmp.Compare(y.total, x.total), cmp.Compare(x.first, y.first))
	})
	for i := 0; i < len(a.kernels) && i < len(s.TopKernels); i++ {
		s.TopKernels[i] = a.kernels[i].name
		s.NTop++
	}
}

// bottleneck is the rule (README.md, "Bottleneck"):
//  1. no GPU work: host;
//  2. busy / wall < MinBusyRatio (the GPU is starved): host when the
//     longest idle gap is at least HostGapShare of the idle time; else
//     launch_bound when the ops average less than ShortOpNs; else host;
//  3. else communication when communication is at least
//     CommunicationShare of the GPU time, memory_copy when memcpy is at
//     least MemcpyShare, else gpu_compute.
func (th Thresholds) bottleneck(s *Step) Bottleneck {
	if s.Ops == 0 || s.GPUSpanNs == 0 {
		return BottleneckHost
	}
	if s.WallNs > 0 && float64(s.BusyNs) < th.MinBusyRatio*float64(s.WallNs) {
		if float64(s.LongestGapNs) < th.HostGapShare*float64(s.IdleNs) && s.GPUSpanNs/int64(s.Ops) < th.ShortOpNs {
			return BottleneckLaunchBound
		}
		return BottleneckHost
	}
	span := float64(s.GPUSpanNs)
	switch {
	case float64(s.GPUTime[ClassCommunication]) >= th.CommunicationShare*span:
		return BottleneckCommunication
	case float64(s.GPUTime[ClassMemcpy]) >= th.MemcpyShare*span:
		return BottleneckMemoryCopy
	}
	return BottleneckGPUCompute
}
