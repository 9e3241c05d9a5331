package profdiff

import (
	"sort"
	"strings"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Classes are the GPU time classes of the insights step attributes
// (vllm.step.gpu_time.<class>_ns).
var Classes = []string{"gemm", "attention", "communication", "memcpy", "memset", "elementwise", "norm", "sampling", "other"}

// Step metric names and the root attribute each is read from ("" = computed
// from the spans of the step trace).
var stepMetrics = []struct{ name, attr string }{
	{"wall", ""},
	{"gpu_busy", "vllm.step.gpu_busy_ns"},
	{"gpu_idle", "vllm.step.gpu_idle_ns"},
	{"gpu_idle.host_wait", "vllm.step.gpu_idle.host_wait_ns"},
	{"gpu_idle.kernel_wait", "vllm.step.gpu_idle.kernel_wait_ns"},
	{"gpu_idle.other", "vllm.step.gpu_idle.other_ns"},
	{"cpu", "vllm.step.cpu_ns"},
	{"cuda_launch", ""},
}

// metric indexes of the computed ones.
const (
	mWall   = 0
	mLaunch = 7
	nStep   = 8
)

// Step is one profiled engine step, folded: its kind, tokens and figures.
type Step struct {
	Kind   string // step root name without "vllm.step."
	Tokens int64  // context + generation tokens; 0 when the annotation says none
	// vals are the step metrics (stepMetrics order) then the classes
	// (Classes order); has says which the root carried.
	vals [nStep + 9]int64
	has  [nStep + 9]bool
	// kernels: total GPU time per kernel name id, sorted by id.
	kernels []kernelTime
}

type kernelTime struct {
	id int32
	ns int64
}

// Side is the steps of one side of a comparison.
type Side struct {
	Files []string
	Steps []Step
	// VLLMVersions are the distinct vllm.version resource values seen.
	VLLMVersions []string
	names        *names
}

// names interns kernel names, shared by both sides of a comparison.
type names struct {
	ids  map[string]int32
	list []string
}

func newNames() *names { return &names{ids: map[string]int32{}} }

func (n *names) id(s string) int32 {
	if id, ok := n.ids[s]; ok {
		return id
	}
	id := int32(len(n.list))
	n.ids[s] = id
	n.list = append(n.list, s)
	return id
}

// Collector folds the converter's span batches of one side into steps.
type Collector struct {
	side    *Side
	cur     *Step
	trace   span.TraceID
	kernels map[int32]int64
}

// NewComparison returns collectors for the base and the new side, sharing
// one kernel name table.
func NewComparison() (base, next *Collector) {
	n := newNames()
	return &Collector{side: &Side{names: n}, kernels: map[int32]int64{}},
		&Collector{side: &Side{names: n}, kernels: map[int32]int64{}}
}

// AddFile records that a file's batches follow (for the report).
func (c *Collector) AddFile(path string) { c.side.Files = append(c.side.Files, path) }

// Add folds one batch. Spans of a trace arrive together, root first (the
// converter's order); a trace whose root is not a step (the profile trace)
// is skipped.
func (c *Collector) Add(b *span.Batch) error {
	if b.Resource != nil {
		if v, ok := span.Lookup(b.Resource.Attrs, "vllm.version"); ok && v.Str != "" && !contains(c.side.VLLMVersions, v.Str) {
			c.side.VLLMVersions = append(c.side.VLLMVersions, v.Str)
		}
	}
	for i := range b.Spans {
		s := &b.Spans[i]
		if s.Parent.IsZero() {
			c.finish()
			c.trace = s.TraceID
			if kind, ok := strings.CutPrefix(s.Name, "vllm.step."); ok {
				c.cur = rootStep(kind, s)
			}
			continue
		}
		if c.cur == nil || s.TraceID != c.trace {
			continue
		}
		cat, _ := span.Lookup(s.Attrs, "kineto.category")
		d := s.End - s.Start
		switch cat.Str {
		case "kernel", "gpu_memcpy", "gpu_memset":
			c.kernels[c.side.names.id(s.Name)] += d
		case "cuda_runtime", "cuda_driver":
			if strings.Contains(s.Name, "Launch") {
				c.cur.vals[mLaunch] += d
			}
		}
	}
	return nil
}

// Finish folds the last step; call it once after the last batch.
func (c *Collector) Finish() *Side {
	c.finish()
	return c.side
}

func (c *Collector) finish() {
	if c.cur == nil {
		return
	}
	ks := make([]kernelTime, 0, len(c.kernels))
	for id, ns := range c.kernels {
		ks = append(ks, kernelTime{id, ns})
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].id < ks[j].id })
	c.cur.kernels = ks
	clear(c.kernels)
	c.side.Steps = append(c.side.Steps, *c.cur)
	c.cur = nil
}

func rootStep(kind string, s *span.Span) *Step {
	st := &Step{Kind: kind}
	st.vals[mWall], st.has[mWall] = s.End-s.Start, true
	st.has[mLaunch] = true
	for i, m := range stepMetrics {
		if m.attr == "" {
			continue
		}
		if v, ok := span.Lookup(s.Attrs, m.attr); ok && v.Type == span.TypeInt {
			st.vals[i], st.has[i] = v.Num, true
		}
	}
	for i, cl := range Classes {
		if v, ok := span.Lookup(s.Attrs, "vllm.step.gpu_time."+cl+"_ns"); ok && v.Type == span.TypeInt {
			st.vals[nStep+i], st.has[nStep+i] = v.Num, true
		}
	}
	for _, k := range []string{"vllm.step.context_tokens", "vllm.step.generation_tokens"} {
		if v, ok := span.Lookup(s.Attrs, k); ok && v.Type == span.TypeInt && v.Num > 0 {
			st.Tokens += v.Num
		}
	}
	return st
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
