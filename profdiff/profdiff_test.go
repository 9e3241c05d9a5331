package profdiff

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// kernelSpec is one kernel of a synthetic step: its mean duration (ns) and
// class.
type kernelSpec struct {
	name, class string
	ns          float64
}

var baseKernels = []kernelSpec{
	{"sm90_xmma_gemm_bf16", "gemm", 120_000},
	{"nvjet_tst_gemm", "gemm", 60_000},
	{"flash_fwd_kernel", "attention", 50_000},
	{"vectorized_elementwise_kernel", "elementwise", 12_000},
	{"rms_norm_kernel", "norm", 8_000},
}

// synth builds n decode steps the way the converter emits them: one trace
// per step, root first (vllm.step.decode with the converter's and the
// insights' attributes), then kernel spans and a launch call per kernel.
// Every duration is drawn with 5% noise.
func synth(rng *rand.Rand, n int, kernels []kernelSpec, classes bool) []*span.Batch {
	var out []*span.Batch
	noisy := func(v float64) int64 { return int64(v * (1 + 0.05*rng.NormFloat64())) }
	t := int64(1_700_000_000_000_000_000)
	for i := 0; i < n; i++ {
		var tid span.TraceID
		tid[0], tid[1] = byte(i), byte(i>>8)
		tid[15] = 1
		root := span.SpanID{1}
		b := &span.Batch{Resource: &span.Resource{}}
		var busy int64
		byClass := map[string]int64{}
		cur := t + 30_000
		var kids []span.Span
		for j, k := range kernels {
			d := noisy(k.ns)
			idle := noisy(4_000)
			cur += idle
			kids = append(kids,
				span.Span{TraceID: tid, SpanID: span.SpanID{2, byte(j)}, Parent: root, Name: "cudaLaunchKernel", Start: cur - 3_000, End: cur - 3_000 + noisy(5_000),
					Attrs: []span.Attr{span.String("kineto.category", "cuda_runtime")}},
				span.Span{TraceID: tid, SpanID: span.SpanID{3, byte(j)}, Parent: root, Name: k.name, Start: cur, End: cur + d,
					Attrs: []span.Attr{span.String("kineto.category", "kernel")}})
			cur += d
			busy += d
			byClass[k.class] += d
		}
		end := cur + noisy(10_000)
		attrs := []span.Attr{
			span.Int("vllm.step.generation_tokens", 16),
			span.Int("vllm.step.gpu_busy_ns", busy),
			span.Int("vllm.step.gpu_idle_ns", end-t-busy),
			span.Int("vllm.step.cpu_ns", noisy(150_000)),
		}
		if classes {
			for _, cl := range Classes {
				attrs = append(attrs, span.Int("vllm.step.gpu_time."+cl+"_ns", byClass[cl]))
			}
		}
		b.Spans = append(b.Spans, span.Span{TraceID: tid, SpanID: root, Name: "vllm.step.decode", Start: t, End: end, Attrs: attrs})
		b.Spans = append(b.Spans, kids...)
		out = append(out, b)
		t = end + 1_000_000
	}
	return out
}

func compareSynth(t *testing.T, seed uint64, baseK, newK []kernelSpec, baseClasses, newClasses bool) *Report {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	bc, nc := NewComparison()
	for _, b := range synth(rng, 30, baseK, baseClasses) {
		if err := bc.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range synth(rng, 30, newK, newClasses) {
		if err := nc.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	return Compare(bc.Finish(), nc.Finish(), DefaultOptions())
}

// significant lists "kind name" of the significant per-step changes.
func significant(r *Report) []string {
	var out []string
	for _, c := range r.Changes {
		if c.Significant {
			out = append(out, c.Kind+" "+c.Name)
		}
	}
	sort.Strings(out)
	return out
}

func with(ks []kernelSpec, f func(*kernelSpec)) []kernelSpec {
	out := append([]kernelSpec(nil), ks...)
	for i := range out {
		f(&out[i])
	}
	return out
}

func TestPureNoiseNothingSignificant(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		r := compareSynth(t, seed, baseKernels, baseKernels, true, true)
		if s := significant(r); len(s) > 0 {
			t.Errorf("seed %d: pure noise called significant: %v", seed, s)
		}
		for _, c := range r.PerToken {
			if c.Significant {
				t.Errorf("seed %d: per token %s %s significant", seed, c.Kind, c.Name)
			}
		}
		if len(r.Structural) > 0 {
			t.Errorf("seed %d: structural changes in pure noise: %+v", seed, r.Structural)
		}
	}
}

func TestOneKernelTwiceAsSlow(t *testing.T) {
	slow := with(baseKernels, func(k *kernelSpec) {
		if k.name == "flash_fwd_kernel" {
			k.ns *= 2
		}
	})
	r := compareSynth(t, 3, baseKernels, slow, true, true)
	sig := significant(r)
	var kernels, classes []string
	for _, s := range sig {
		switch {
		case strings.HasPrefix(s, "kernel "):
			kernels = append(kernels, s)
		case strings.HasPrefix(s, "class "):
			classes = append(classes, s)
		}
	}
	if strings.Join(kernels, ",") != "kernel flash_fwd_kernel" || strings.Join(classes, ",") != "class attention" {
		t.Fatalf("significant %v, want exactly the kernel flash_fwd_kernel and the class attention (plus the step totals)", sig)
	}
	// Biggest effect first: the kernel's +50 µs ties the class's, both
	// ahead of anything else but the totals it moved.
	c := find(r.Changes, "kernel", "flash_fwd_kernel")
	if c.DeltaNs < 45_000 || c.DeltaNs > 55_000 || c.CILowNs <= 0 || c.CILowNs > c.DeltaNs || c.CIHighNs < c.DeltaNs {
		t.Errorf("flash_fwd_kernel change %+v, want about +50 µs with a CI around it", c)
	}
	if !r.Changes[0].Significant || abs(r.Changes[0].DeltaNs) < abs(c.DeltaNs) {
		t.Errorf("first change %+v is not the biggest significant one", r.Changes[0])
	}
	if len(r.Structural) != 0 {
		t.Errorf("structural %+v, want none", r.Structural)
	}
}

func TestOneClassFaster(t *testing.T) {
	fast := with(baseKernels, func(k *kernelSpec) {
		if k.class == "gemm" {
			k.ns *= 0.7
		}
	})
	r := compareSynth(t, 4, baseKernels, fast, true, true)
	for _, s := range significant(r) {
		switch s {
		case "class gemm", "kernel sm90_xmma_gemm_bf16", "kernel nvjet_tst_gemm", "step wall", "step gpu_busy":
		default:
			t.Errorf("significant %q: only the gemm class, its kernels and the totals changed", s)
		}
	}
	c := find(r.Changes, "class", "gemm")
	if !c.Significant || c.DeltaNs > -45_000 || c.DeltaNs < -63_000 {
		t.Errorf("class gemm %+v, want about −54 µs, significant", c)
	}
}

func TestKernelReplaced(t *testing.T) {
	fused := with(baseKernels, func(k *kernelSpec) {
		if k.name == "vectorized_elementwise_kernel" {
			k.name = "fused_add_rms_norm_kernel"
		}
	})
	r := compareSynth(t, 5, baseKernels, fused, true, true)
	var got []string
	for _, s := range r.Structural {
		got = append(got, s.Change+" "+s.Name)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "appeared fused_add_rms_norm_kernel,disappeared vectorized_elementwise_kernel" {
		t.Errorf("structural %v", got)
	}
	for _, s := range significant(r) {
		if s != "kernel fused_add_rms_norm_kernel" && s != "kernel vectorized_elementwise_kernel" {
			t.Errorf("significant %q: only the replaced kernels changed", s)
		}
	}
}

// Without the insights attributes on one side, the classes are not
// available, and nothing is made up for them.
func TestClassesNotAvailable(t *testing.T) {
	r := compareSynth(t, 6, baseKernels, baseKernels, true, false)
	for _, c := range r.Changes {
		if c.Kind == "class" {
			t.Fatalf("class change %+v without class attributes on the new side", c)
		}
	}
	joined := strings.Join(r.NotAvailable, "\n")
	if !strings.Contains(joined, "vllm.step.gpu_time.gemm_ns is on the step roots of one side only") {
		t.Errorf("not available: %s", joined)
	}
	r = compareSynth(t, 6, baseKernels, baseKernels, false, false)
	if j := strings.Join(r.NotAvailable, "\n"); !strings.Contains(j, "decode class: n/a") {
		t.Errorf("not available: %s", j)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "class: n/a") {
		t.Errorf("text report does not say the classes are n/a:\n%s", b.String())
	}
}

func find(cs []Change, kind, name string) Change {
	for _, c := range cs {
		if c.Kind == kind && c.Name == name {
			return c
		}
	}
	return Change{}
}

// The JSON changes[] carry exactly the fields of issue 16, in its order.
func TestJSONFieldOrder(t *testing.T) {
	r := compareSynth(t, 7, baseKernels, baseKernels, true, true)
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Changes []json.RawMessage `json:"changes"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Changes) == 0 {
		t.Fatal("no changes")
	}
	dec := json.NewDecoder(bytes.NewReader(doc.Changes[0]))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	want := "kind,name,step_kind,base_ns,new_ns,delta_ns,ci_low_ns,ci_high_ns,significant"
	if strings.Join(keys, ",") != want {
		t.Errorf("changes[] fields %v, want %s", keys, want)
	}
}

func TestHTMLSelfContained(t *testing.T) {
	slow := with(baseKernels, func(k *kernelSpec) {
		if k.name == "flash_fwd_kernel" {
			k.ns *= 2
		}
	})
	r := compareSynth(t, 8, baseKernels, slow, true, true)
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	h := b.String()
	for _, bad := range []string{"http://", "https://", "<script", "ZgotmplZ"} {
		if strings.Contains(h, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	for _, want := range []string{"GPU time by class", "flash_fwd_kernel", `<svg id="diff-chart-0"`, `class="bar"`, "<td class=\"name\" title=\"yes\">yes</td>"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

// convertFile streams a real trace through the converter into c.
func convertFile(t *testing.T, c *Collector, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts := converter.DefaultOptions()
	opts.MaxSpansPerTrace = 0
	c.AddFile(filepath.Base(path))
	if _, err := converter.Convert(t.Context(), f, opts, c.Add); err != nil {
		t.Fatal(err)
	}
}

func compareFiles(t *testing.T, base, next string) *Report {
	t.Helper()
	bc, nc := NewComparison()
	convertFile(t, bc, base)
	convertFile(t, nc, next)
	return Compare(bc.Finish(), nc.Finish(), DefaultOptions())
}

// Two runs recorded on an H100 with mini_engine.py, identical (12 layers,
// hidden 2048) except CUDA graphs off (base) and on (new): the launch time
// and the GPU idle time (the GPU waiting for the host) fall.
func TestRealPairCUDAGraphs(t *testing.T) {
	r := compareFiles(t, "testdata/device/s1_L12_H2048_cg0.1796627324940205593.pt.trace.json.gz",
		"testdata/device/s3_L12_H2048_cg1.1796627323973697038.pt.trace.json.gz")
	for _, name := range []string{"cuda_launch", "gpu_idle", "wall"} {
		c := find(r.Changes, "step", name)
		if !c.Significant || c.DeltaNs >= 0 || c.CIHighNs >= 0 {
			t.Errorf("step %s: %+v, want a significant fall", name, c)
		}
	}
	if c := find(r.Changes, "step", "cuda_launch"); c.NewNs*3 > c.BaseNs {
		t.Errorf("launch time %d → %d ns per step, want at least 3× less with CUDA graphs", c.BaseNs, c.NewNs)
	}
}

// The two windows of the H100 fixture: one serving run, different load.
// Per token, nothing is significant.
func TestRealPairH100Windows(t *testing.T) {
	r := compareFiles(t, "testdata/dp0_pp0_tp0_dcp0_ep0_rank0.1795789272497483694.pt.trace.json.gz",
		"../testdata/h100/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz")
	if len(r.PerToken) == 0 {
		t.Fatal("no per-token comparisons")
	}
	for _, c := range r.PerToken {
		if c.Significant {
			t.Errorf("per token %s %s %s significant: %+v", c.StepKind, c.Kind, c.Name, c)
		}
	}
	if r.Base.Steps["decode"] != 49 || r.New.Steps["decode"] != 25 {
		t.Errorf("steps %v vs %v", r.Base.Steps, r.New.Steps)
	}
}

func TestVLLMVersionsReported(t *testing.T) {
	bc, nc := NewComparison()
	rng := rand.New(rand.NewPCG(9, 9))
	for i, c := range []*Collector{bc, nc} {
		for _, b := range synth(rng, 3, baseKernels, false) {
			b.Resource = &span.Resource{Attrs: []span.Attr{span.String("vllm.version", []string{"0.11.0", "0.12.0"}[i])}}
			if err := c.Add(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := Compare(bc.Finish(), nc.Finish(), DefaultOptions())
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "vLLM: 0.11.0 → 0.12.0") {
		t.Errorf("text report lacks the versions:\n%s", b.String())
	}
}
