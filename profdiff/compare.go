package profdiff

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/stats"
)

// Options tune the comparison; DefaultOptions gives the documented values.
type Options struct {
	// TopKernels is how many of each side's longest kernels (by mean time
	// per step, per step kind) are compared, besides those that appear or
	// disappear.
	TopKernels int
	// Confidence is the level of the bootstrap intervals (0.95).
	Confidence float64
	// Resamples is the number of bootstrap resamples (2000).
	Resamples int
	// Alpha is the family-wise error rate: a change is significant only
	// when its Mann-Whitney p-value is below Alpha divided by the number
	// of comparisons made (Bonferroni), so a pure-noise pair is called
	// unchanged with probability at least 1 − Alpha.
	Alpha float64
	// MinEffect is the smallest relative change (of the base mean) that
	// is called significant (0.02: 2%); smaller ones are within noise for
	// a performance engineer even when the test is sure of them.
	MinEffect float64
	// MinSteps is the fewest steps of a kind each side needs (3).
	MinSteps int
	// MinShare is the least share of a side's GPU time (per step kind)
	// that a kernel needs to count as appearing or disappearing (0.001).
	MinShare float64
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{TopKernels: 10, Confidence: 0.95, Resamples: 2000, Alpha: 0.05, MinEffect: 0.02, MinSteps: 3, MinShare: 0.001}
}

// Change is one compared figure, per step (Report.Changes) or per token
// (Report.PerToken). Its JSON fields are in the order of issue 16.
type Change struct {
	Kind        string `json:"kind"` // step, class or kernel
	Name        string `json:"name"`
	StepKind    string `json:"step_kind"`
	BaseNs      int64  `json:"base_ns"`  // mean over the base steps
	NewNs       int64  `json:"new_ns"`   // mean over the new steps
	DeltaNs     int64  `json:"delta_ns"` // new − base
	CILowNs     int64  `json:"ci_low_ns"`
	CIHighNs    int64  `json:"ci_high_ns"`
	Significant bool   `json:"significant"`
	// P is the Mann-Whitney two-sided p-value (printed, not in the JSON
	// contract).
	P float64 `json:"-"`
}

// Structural is a kernel that ran on one side only.
type Structural struct {
	Change   string `json:"change"` // appeared or disappeared
	Name     string `json:"name"`
	StepKind string `json:"step_kind"`
	BaseNs   int64  `json:"base_ns"`
	NewNs    int64  `json:"new_ns"`
	// Steps is how many steps of the side that has it ran it.
	Steps int `json:"steps"`
}

// KindSummary is the headline of one step kind.
type KindSummary struct {
	StepKind    string  `json:"step_kind"`
	BaseSteps   int     `json:"base_steps"`
	NewSteps    int     `json:"new_steps"`
	Wall        *Change `json:"wall,omitempty"`
	BaseBusyPct float64 `json:"base_gpu_busy_pct"`
	NewBusyPct  float64 `json:"new_gpu_busy_pct"`
	Significant int     `json:"significant"`
	// Classes holds the mean GPU time per class per step (base, new),
	// when both sides carry the class attributes; nil otherwise.
	Classes map[string][2]int64 `json:"classes,omitempty"`
}

// SideInfo says what one side held.
type SideInfo struct {
	Files        []string       `json:"files"`
	Steps        map[string]int `json:"steps"`
	VLLMVersions []string       `json:"vllm_versions,omitempty"`
}

// Report is the whole comparison.
type Report struct {
	Base       SideInfo      `json:"base"`
	New        SideInfo      `json:"new"`
	Changes    []Change      `json:"changes"`
	PerToken   []Change      `json:"per_token"`
	Structural []Structural  `json:"structural"`
	Summary    []KindSummary `json:"summary"`
	// NotAvailable lists what could not be compared and why.
	NotAvailable []string `json:"not_available"`
	// Comparisons is the number of tests made; Threshold the p-value a
	// change had to beat (Alpha / Comparisons).
	Comparisons int     `json:"comparisons"`
	Threshold   float64 `json:"p_threshold"`
}

// Compare compares base with next.
func Compare(base, next *Side, o Options) *Report {
	r := &Report{Base: info(base), New: info(next), Changes: []Change{}, PerToken: []Change{}, Structural: []Structural{}, NotAvailable: []string{}}
	kinds := map[string]bool{}
	for k := range r.Base.Steps {
		kinds[k] = true
	}
	for k := range r.New.Steps {
		kinds[k] = true
	}
	var sorted []string
	for k := range kinds {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	names := base.names
	for _, kind := range sorted {
		bs, ns := ofKind(base.Steps, kind), ofKind(next.Steps, kind)
		if len(bs) < o.MinSteps || len(ns) < o.MinSteps {
			r.NotAvailable = append(r.NotAvailable, fmt.Sprintf("%s: %d base and %d new steps, %d needed on each side", kind, len(bs), len(ns), o.MinSteps))
			continue
		}
		sum := KindSummary{StepKind: kind, BaseSteps: len(bs), NewSteps: len(ns)}
		sum.BaseBusyPct, sum.NewBusyPct = busyPct(bs), busyPct(ns)
		for i, m := range stepMetrics {
			r.compareMetric(bs, ns, i, "step", m.name, m.attr, kind, o)
		}
		for i, cl := range Classes {
			r.compareMetric(bs, ns, nStep+i, "class", cl, "vllm.step.gpu_time."+cl+"_ns", kind, o)
		}
		if allHave(bs, nStep) && allHave(ns, nStep) {
			sum.Classes = map[string][2]int64{}
			for i, cl := range Classes {
				sum.Classes[cl] = [2]int64{round(meanOf(bs, nStep+i)), round(meanOf(ns, nStep+i))}
			}
		}
		r.compareKernels(bs, ns, kind, names, o)
		r.Summary = append(r.Summary, sum)
	}
	// Significance over the whole family of tests.
	r.Comparisons = len(r.Changes) + len(r.PerToken)
	if r.Comparisons > 0 {
		r.Threshold = o.Alpha / float64(r.Comparisons)
	}
	for _, cs := range [][]Change{r.Changes, r.PerToken} {
		for i := range cs {
			c := &cs[i]
			c.Significant = c.P < r.Threshold && (c.CILowNs > 0 || c.CIHighNs < 0) &&
				math.Abs(float64(c.DeltaNs)) >= o.MinEffect*math.Abs(float64(c.BaseNs)) && c.DeltaNs != 0
		}
		sortChanges(cs)
	}
	for i := range r.Summary {
		s := &r.Summary[i]
		for j := range r.Changes {
			c := &r.Changes[j]
			if c.StepKind != s.StepKind {
				continue
			}
			if c.Significant {
				s.Significant++
			}
			if c.Kind == "step" && c.Name == "wall" {
				cc := *c
				s.Wall = &cc
			}
		}
	}
	return r
}

func info(s *Side) SideInfo {
	in := SideInfo{Files: s.Files, Steps: map[string]int{}, VLLMVersions: s.VLLMVersions}
	if in.Files == nil {
		in.Files = []string{}
	}
	for _, st := range s.Steps {
		in.Steps[st.Kind]++
	}
	return in
}

func ofKind(steps []Step, kind string) []*Step {
	var out []*Step
	for i := range steps {
		if steps[i].Kind == kind {
			out = append(out, &steps[i])
		}
	}
	return out
}

func allHave(steps []*Step, i int) bool {
	for _, s := range steps {
		if !s.has[i] {
			return false
		}
	}
	return len(steps) > 0
}

func anyHas(steps []*Step, i int) bool {
	for _, s := range steps {
		if s.has[i] {
			return true
		}
	}
	return false
}

func meanOf(steps []*Step, i int) float64 {
	xs := make([]float64, len(steps))
	for j, s := range steps {
		xs[j] = float64(s.vals[i])
	}
	return stats.Mean(xs)
}

func busyPct(steps []*Step) float64 {
	if !allHave(steps, 1) {
		return math.NaN()
	}
	busy, wall := 0.0, 0.0
	for _, s := range steps {
		busy += float64(s.vals[1])
		wall += float64(s.vals[mWall])
	}
	if wall == 0 {
		return math.NaN()
	}
	return 100 * busy / wall
}

// compareMetric compares metric i of the steps, per step and per token,
// or notes why it cannot.
func (r *Report) compareMetric(bs, ns []*Step, i int, kind, name, attr, stepKind string, o Options) {
	if !allHave(bs, i) || !allHave(ns, i) {
		// Report a metric missing on both sides once per group, not per
		// class; one missing on one side only is always reported.
		switch {
		case anyHas(bs, i) || anyHas(ns, i):
			r.NotAvailable = append(r.NotAvailable, fmt.Sprintf("%s %s %s: %s is on the step roots of one side only (base %v, new %v)", stepKind, kind, name, attr, allHave(bs, i), allHave(ns, i)))
		case kind == "class" && i == nStep:
			r.NotAvailable = append(r.NotAvailable, fmt.Sprintf("%s class: n/a, vllm.step.gpu_time.<class>_ns are on neither side's step roots (converted without the insights step attributes)", stepKind))
		case kind == "step" && strings.HasPrefix(attr, "vllm.step.gpu_idle."):
			if i == 3 { // the split's first metric stands for the three
				r.NotAvailable = append(r.NotAvailable, fmt.Sprintf("%s gpu_idle split (host_wait, kernel_wait, other): n/a, vllm.step.gpu_idle.*_ns are on neither side's step roots (converted without the insights step attributes)", stepKind))
			}
		case kind == "step":
			r.NotAvailable = append(r.NotAvailable, fmt.Sprintf("%s %s: n/a, %s is on neither side's step roots", stepKind, name, attr))
		}
		return
	}
	get := func(s *Step) float64 { return float64(s.vals[i]) }
	r.add(kind, name, stepKind, bs, ns, get, o)
}

// add compares one figure per step and per token.
func (r *Report) add(kind, name, stepKind string, bs, ns []*Step, get func(*Step) float64, o Options) {
	x, y := values(bs, get, false), values(ns, get, false)
	r.Changes = append(r.Changes, change(kind, name, stepKind, x, y, o))
	xt, yt := values(bs, get, true), values(ns, get, true)
	if len(xt) >= o.MinSteps && len(yt) >= o.MinSteps {
		r.PerToken = append(r.PerToken, change(kind, name, stepKind, xt, yt, o))
	}
}

func values(steps []*Step, get func(*Step) float64, perToken bool) []float64 {
	out := make([]float64, 0, len(steps))
	for _, s := range steps {
		v := get(s)
		if perToken {
			if s.Tokens <= 0 {
				continue
			}
			v /= float64(s.Tokens)
		}
		out = append(out, v)
	}
	return out
}

func change(kind, name, stepKind string, x, y []float64, o Options) Change {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s", kind, name, stepKind)
	iv, _ := stats.BootstrapMeanDiff(x, y, o.Confidence, o.Resamples, h.Sum64())
	mw, _ := stats.MannWhitneyU(x, y)
	bm, nm := stats.Mean(x), stats.Mean(y)
	return Change{Kind: kind, Name: name, StepKind: stepKind,
		BaseNs: round(bm), NewNs: round(nm), DeltaNs: round(nm - bm),
		CILowNs: round(iv.Low), CIHighNs: round(iv.High), P: mw.P}
}

func round(v float64) int64 { return int64(math.Round(v)) }

// compareKernels compares each side's top kernels and every kernel that
// ran on one side only, per step and per token.
func (r *Report) compareKernels(bs, ns []*Step, stepKind string, names *names, o Options) {
	bt, bc, btotal := kernelTotals(bs)
	nt, nc, ntotal := kernelTotals(ns)
	pick := map[int32]bool{}
	for _, id := range top(bt, o.TopKernels) {
		pick[id] = true
	}
	for _, id := range top(nt, o.TopKernels) {
		pick[id] = true
	}
	for id, t := range bt {
		if nt[id] == 0 && float64(t) >= o.MinShare*float64(btotal) && 2*bc[id] >= len(bs) {
			pick[id] = true
			r.Structural = append(r.Structural, Structural{Change: "disappeared", Name: names.list[id], StepKind: stepKind,
				BaseNs: round(float64(t) / float64(len(bs))), Steps: bc[id]})
		}
	}
	for id, t := range nt {
		if bt[id] == 0 && float64(t) >= o.MinShare*float64(ntotal) && 2*nc[id] >= len(ns) {
			pick[id] = true
			r.Structural = append(r.Structural, Structural{Change: "appeared", Name: names.list[id], StepKind: stepKind,
				NewNs: round(float64(t) / float64(len(ns))), Steps: nc[id]})
		}
	}
	sort.Slice(r.Structural, func(i, j int) bool {
		a, b := r.Structural[i], r.Structural[j]
		if a.StepKind != b.StepKind {
			return a.StepKind < b.StepKind
		}
		if a.BaseNs+a.NewNs != b.BaseNs+b.NewNs {
			return a.BaseNs+a.NewNs > b.BaseNs+b.NewNs
		}
		return a.Name < b.Name
	})
	ids := make([]int32, 0, len(pick))
	for id := range pick {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return names.list[ids[i]] < names.list[ids[j]] })
	for _, id := range ids {
		r.add("kernel", names.list[id], stepKind, bs, ns, func(s *Step) float64 { return float64(s.kernel(id)) }, o)
	}
}

func (s *Step) kernel(id int32) int64 {
	i := sort.Search(len(s.kernels), func(i int) bool { return s.kernels[i].id >= id })
	if i < len(s.kernels) && s.kernels[i].id == id {
		return s.kernels[i].ns
	}
	return 0
}

// kernelTotals sums each kernel's time over steps, counts the steps that
// ran it, and sums all kernel time.
func kernelTotals(steps []*Step) (map[int32]int64, map[int32]int, int64) {
	tot, cnt := map[int32]int64{}, map[int32]int{}
	var all int64
	for _, s := range steps {
		for _, k := range s.kernels {
			tot[k.id] += k.ns
			cnt[k.id]++
			all += k.ns
		}
	}
	return tot, cnt, all
}

func top(tot map[int32]int64, n int) []int32 {
	ids := make([]int32, 0, len(tot))
	for id := range tot {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if tot[ids[i]] != tot[ids[j]] {
			return tot[ids[i]] > tot[ids[j]]
		}
		return ids[i] < ids[j]
	})
	if len(ids) > n {
		ids = ids[:n]
	}
	return ids
}

// sortChanges puts significant changes first, then by effect size
// (absolute delta) descending; ties by kind, step kind and name.
func sortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Significant != b.Significant {
			return a.Significant
		}
		da, db := abs(a.DeltaNs), abs(b.DeltaNs)
		if da != db {
			return da > db
		}
		if a.StepKind != b.StepKind {
			return a.StepKind < b.StepKind
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
