package report

import (
	"encoding/json"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Classes are issue 13's kernel classes, in the order of their
// vllm.step.gpu_time.<class>_ns attributes (the stacking order of the
// HTML chart).
var Classes = []string{"gemm", "attention", "communication", "memcpy", "memset", "elementwise", "norm", "sampling", "other"}

// Step-root and request attribute names the report reads (issue 13's
// contract and the converter's own step-root attributes).
const (
	AttrStepIndex      = "vllm.step.index"
	AttrGPUBusy        = "vllm.step.gpu_busy_ns"
	AttrGPUIdle        = "vllm.step.gpu_idle_ns"
	AttrHostWait       = "vllm.step.gpu_idle.host_wait_ns"
	AttrKernelWait     = "vllm.step.gpu_idle.kernel_wait_ns"
	AttrIdleOther      = "vllm.step.gpu_idle.other_ns"
	AttrBottleneck     = "vllm.step.bottleneck"
	AttrTopKernels     = "vllm.step.top_kernels"
	AttrLaunchP50      = "vllm.step.launch_delay_p50_ns"
	AttrLaunchP99      = "vllm.step.launch_delay_p99_ns"
	AttrNsPerToken     = "vllm.step.gpu_ns_per_token"
	AttrMemcpyHtoD     = "vllm.step.memcpy.htod_bytes"
	AttrMemcpyDtoH     = "vllm.step.memcpy.dtoh_bytes"
	AttrMemcpyDtoD     = "vllm.step.memcpy.dtod_bytes"
	AttrRequestIDs     = "vllm.step.request_ids"
	AttrCtxRequests    = "vllm.step.context_requests"
	AttrCtxTokens      = "vllm.step.context_tokens"
	AttrGenRequests    = "vllm.step.generation_requests"
	AttrGenTokens      = "vllm.step.generation_tokens"
	AttrNewRequests    = "vllm.step.new_requests"
	AttrCachedRequests = "vllm.step.cached_requests"
	AttrStepKind       = "vllm.step.kind"
	AttrRequestID      = "gen_ai.request.id"
	AttrAttributed     = "vllm.request.gpu_attributed_ns"
)

// ClassAttr is the step-root attribute of class c's GPU time.
func ClassAttr(c string) string { return "vllm.step.gpu_time." + c + "_ns" }

// IdleParts are the idle split's attributes, in stacking order, with
// their short names.
var IdleParts = []struct{ Attr, Name string }{
	{AttrHostWait, "host_wait"}, {AttrKernelWait, "kernel_wait"}, {AttrIdleOther, "idle_other"},
}

// contractStepKeys are the issue-13 step attributes every JSON step
// carries, null when the root lacks them.
func contractStepKeys() []string {
	keys := []string{AttrGPUBusy, AttrGPUIdle}
	for _, c := range Classes {
		keys = append(keys, ClassAttr(c))
	}
	for _, p := range IdleParts {
		keys = append(keys, p.Attr)
	}
	return append(keys, AttrMemcpyHtoD, AttrMemcpyDtoH, AttrMemcpyDtoD, AttrLaunchP50, AttrLaunchP99,
		AttrTopKernels, AttrNsPerToken, AttrBottleneck)
}

// Report is the inspect report of one or more trace files.
type Report struct {
	Files []File `json:"files"`
	// Classified says whether kernels were classified (Options.Classify
	// set); without it KernelRow.Class is empty.
	Classified bool `json:"classified"`
	// ClassNs is the GPU span time of the steps by class (Classify set
	// only; nil otherwise).
	ClassNs map[string]int64 `json:"class_ns"`
	Steps   []Step           `json:"steps"`
	Kernels []KernelTable    `json:"kernels"`
	// Top are the three GPU span names with the most time over all steps
	// (GPUPct: share of all steps' GPU span time).
	Top []KernelRow `json:"top_kernels"`
	// Longest are the longest single runs of the kernel names whose runs
	// were longest, one per name, longest first.
	Longest []KernelRun `json:"longest_kernels"`
	// LongRuns counts the kernel runs of Thresholds.LongKernelNs or longer.
	LongRuns  int64        `json:"long_kernel_runs"`
	Checklist []Finding    `json:"checklist"`
	Requests  []RequestRow `json:"requests"`
}

// File is one trace file of the report.
type File struct {
	Name  string `json:"name"` // vllm.trace.file (base name)
	Rank  *int64 `json:"rank"` // vllm.rank, nil when unknown
	GPU   string `json:"gpu,omitempty"`
	Steps int    `json:"steps"`
	// Error says why the file could not be read whole (FileFailed).
	Error string `json:"error,omitempty"`
}

// Step is one engine step: the scalar vllm.step.* attributes of its root
// as written, and sums over its trace's spans.
type Step struct {
	File  int    // index into Report.Files
	Index int64  // vllm.step.index
	Kind  string // the root's name without "vllm.step."
	// TraceID is the step trace's id (hex).
	TraceID string
	Start   int64 // Unix ns of the root
	WallNs  int64 // root span length
	// Attrs are the root's vllm.step.* attributes except the request ids
	// (their count is Requests), in the root's order.
	Attrs    []span.Attr
	Requests int // len(vllm.step.request_ids)

	// Sums over the spans of the step's trace, as they streamed past.
	GPUSpanNs   int64    // summed durations of kernel, memcpy and memset spans
	GPUSpans    int64    // their number
	MemcpyNs    [4]int64 // by direction: HtoD, DtoH, DtoD, other
	MemcpyBytes [4]int64
	MemcpyCount int64
	SyncNs      int64 // CPU time in cuda*Synchronize calls
	SyncCalls   int64
	AllocCalls  int64 // cudaMalloc*/cudaFree*/cudaHostAlloc calls
	AllocNs     int64
	MemAllocs   int64 // [memory] allocation events (bytes > 0)
	MemAllocB   int64 // bytes they allocated
	MemPeak     int64 // largest memory.total_allocated seen on a CUDA device; -1 none
}

// MemcpyDirections name Step.MemcpyNs's slots.
var MemcpyDirections = [4]string{"htod", "dtoh", "dtod", "other"}

// Int returns the integer attribute key of the step root.
func (s *Step) Int(key string) (int64, bool) {
	v, ok := span.Lookup(s.Attrs, key)
	if !ok || v.Type != span.TypeInt {
		return 0, false
	}
	return v.Num, true
}

// Str returns the string attribute key of the step root.
func (s *Step) Str(key string) (string, bool) {
	v, ok := span.Lookup(s.Attrs, key)
	if !ok || v.Type != span.TypeString {
		return "", false
	}
	return v.Str, true
}

// Dominant is the class with the most GPU time by the root's
// vllm.step.gpu_time.<class>_ns attributes, and that time; ok is false
// when the root has none of them.
func (s *Step) Dominant() (class string, ns int64, ok bool) {
	for _, c := range Classes {
		if v, has := s.Int(ClassAttr(c)); has {
			if !ok || v > ns {
				class, ns, ok = c, v, true
			}
		}
	}
	return class, ns, ok
}

// BusyShare is vllm.step.gpu_busy_ns over the wall time.
func (s *Step) BusyShare() (float64, bool) {
	return s.share(AttrGPUBusy)
}

// HostWaitShare is vllm.step.gpu_idle.host_wait_ns over the wall time.
func (s *Step) HostWaitShare() (float64, bool) {
	return s.share(AttrHostWait)
}

// IdleShare is vllm.step.gpu_idle_ns over the wall time.
func (s *Step) IdleShare() (float64, bool) {
	return s.share(AttrGPUIdle)
}

func (s *Step) share(key string) (float64, bool) {
	v, ok := s.Int(key)
	if !ok || s.WallNs <= 0 {
		return 0, false
	}
	return float64(v) / float64(s.WallNs), true
}

// MarshalJSON writes the step as one object keyed by attribute name: the
// contract keys (null when absent), every other vllm.step.* attribute of
// the root, and the report's own figures under plain names.
func (s Step) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for _, k := range contractStepKeys() {
		m[k] = nil
	}
	for _, a := range s.Attrs {
		m[a.Key] = attrJSON(a.Value)
	}
	m[AttrStepKind] = s.Kind
	m["file"] = s.File
	m["trace_id"] = s.TraceID
	m["start_unix_ns"] = s.Start
	m["wall_ns"] = s.WallNs
	m["request_count"] = s.Requests
	m["gpu_span_ns"] = s.GPUSpanNs
	m["gpu_span_count"] = s.GPUSpans
	m["memcpy_count"] = s.MemcpyCount
	for i, d := range MemcpyDirections {
		m["memcpy_"+d+"_ns"] = s.MemcpyNs[i]
		m["memcpy_"+d+"_bytes"] = s.MemcpyBytes[i]
	}
	m["cuda_sync_ns"] = s.SyncNs
	m["cuda_sync_calls"] = s.SyncCalls
	m["cuda_alloc_calls"] = s.AllocCalls
	m["cuda_alloc_ns"] = s.AllocNs
	m["memory_alloc_events"] = s.MemAllocs
	m["memory_alloc_bytes"] = s.MemAllocB
	if s.MemPeak >= 0 {
		m["memory_peak_allocated_bytes"] = s.MemPeak
	} else {
		m["memory_peak_allocated_bytes"] = nil
	}
	put := func(k string, v float64, ok bool) {
		if ok {
			m[k] = round(v*100, 2)
		} else {
			m[k] = nil
		}
	}
	b, ok := s.BusyShare()
	put("gpu_busy_pct", b, ok)
	h, ok := s.HostWaitShare()
	put("host_wait_pct", h, ok)
	if c, _, ok := s.Dominant(); ok {
		m["dominant_class"] = c
	} else {
		m["dominant_class"] = nil
	}
	return json.Marshal(m)
}

func attrJSON(v span.Value) any {
	switch v.Type {
	case span.TypeString:
		return v.Str
	case span.TypeInt:
		return v.Num
	case span.TypeDouble:
		return v.AsFloat()
	case span.TypeBool:
		return v.AsBool()
	case span.TypeStringSlice:
		return v.Strs
	case span.TypeIntSlice:
		return v.Ints
	}
	return nil
}

// KernelTable is the key_averages() table of one step kind: the GPU spans
// (kernels, memcpys, memsets) of its steps grouped by name.
type KernelTable struct {
	Kind  string      `json:"kind"`  // step kind; "profile" = outside every step
	Steps int         `json:"steps"` // steps of that kind
	GPUNs int64       `json:"gpu_ns"`
	Names int         `json:"names"` // distinct names (Rows may hold fewer, or a name twice: one row per class)
	Rows  []KernelRow `json:"rows"`
	// Rest sums the names beyond Rows.
	Rest KernelRow `json:"rest"`
}

// KernelRow is one GPU span name within a step kind.
type KernelRow struct {
	Name     string  `json:"name"`
	Category string  `json:"category"` // kineto.category: kernel, gpu_memcpy, gpu_memset
	Class    string  `json:"class,omitempty"`
	Calls    int64   `json:"calls"`
	TotalNs  int64   `json:"total_ns"`
	MeanNs   int64   `json:"mean_ns"`
	MaxNs    int64   `json:"max_ns"`
	GPUPct   float64 `json:"gpu_pct"` // share of the kind's GPU span time
}

// KernelRun is one run of one kernel.
type KernelRun struct {
	Name  string `json:"name"`
	DurNs int64  `json:"dur_ns"`
	File  int    `json:"file"`
	Step  int64  `json:"step"` // vllm.step.index; -1 outside every step
	Kind  string `json:"kind"`
}

// Finding is one item of the checklist.
type Finding struct {
	Item string `json:"item"`
	// Status is "flag" (worth a look), "ok", "info" or "n/a" (the trace
	// lacks what the item needs).
	Status   string   `json:"status"`
	Finding  string   `json:"finding"`
	Evidence []string `json:"evidence"`
	// Steps are the steps the evidence names (indices into Report.Steps).
	Steps []int `json:"steps"`
}

// RequestRow is one request the linker tied to profiled steps.
type RequestRow struct {
	ID          string         `json:"id"`
	Steps       int            `json:"steps"`
	StepsByKind map[string]int `json:"steps_by_kind"`
	// AttributedNs sums vllm.request.gpu_attributed_ns over the request's
	// request-step spans; nil when any of them lacks it.
	AttributedNs *int64 `json:"gpu_attributed_ns"`
	// Slowest is the request's longest step; nil when none of its steps
	// is in the report.
	Slowest *StepRef `json:"slowest_step"`
}

// StepRef names one step of the report.
type StepRef struct {
	Step       int     `json:"-"` // index into Report.Steps
	File       int     `json:"file"`
	Index      int64   `json:"vllm.step.index"`
	Kind       string  `json:"vllm.step.kind"`
	WallNs     int64   `json:"wall_ns"`
	Bottleneck *string `json:"vllm.step.bottleneck"`
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}
