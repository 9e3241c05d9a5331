package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Hand-built span batches; every expected figure below is worked out by
// hand from these literals.

var (
	trStep0   = span.TraceID{1}
	trStep1   = span.TraceID{2}
	trProfile = span.TraceID{9}
	trReqA    = span.TraceID{0xa}
	trReqB    = span.TraceID{0xb}
)

func sid(n byte) span.SpanID { return span.SpanID{n} }

func fileRes() *span.Resource {
	return &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm"),
		span.String("vllm.trace.file", "rank0.pt.trace.json.gz"), span.Int("vllm.rank", 0),
		span.String("gpu.name", "NVIDIA H100")}}
}

func gpu(tr span.TraceID, id byte, name, cat string, start, dur int64, attrs ...span.Attr) span.Span {
	return span.Span{TraceID: tr, SpanID: sid(id), Parent: sid(100), Name: name, Start: start, End: start + dur,
		Attrs: append([]span.Attr{span.String("kineto.category", cat)}, attrs...)}
}

// step0 is a decode step of wall time 10 µs from an old converter: no
// insights attributes. Its GPU spans: gemm_a 3000 + 1000, attn 2000, one
// HtoD copy of 4096 B in 500; CPU side a 700 ns cudaStreamSynchronize, a
// 100 ns cudaMalloc and an op with two CUDA [memory] events.
func step0() *span.Batch {
	root := span.Span{TraceID: trStep0, SpanID: sid(100), Name: "vllm.step.decode", Start: 1000, End: 11000,
		Attrs: []span.Attr{span.String("kineto.category", "user_annotation"), span.Int("vllm.step.index", 0),
			span.String("vllm.step.name", "execute_context_0(0)_generation_2(2)"),
			span.Int(AttrCtxRequests, 0), span.Int(AttrCtxTokens, 0), span.Int(AttrGenRequests, 2), span.Int(AttrGenTokens, 2),
			span.Int(AttrGPUBusy, 6000), span.Int(AttrGPUIdle, 4000), span.Strings(AttrRequestIDs, []string{"a", "b"})}}
	op := span.Span{TraceID: trStep0, SpanID: sid(1), Parent: sid(100), Name: "aten::empty", Start: 1100, End: 1300,
		Attrs: []span.Attr{span.String("kineto.category", "cpu_op")},
		Events: []span.Event{
			{Time: 1150, Name: "[memory]", Attrs: []span.Attr{span.Int("memory.bytes", 1024), span.Int("memory.total_allocated", 5000), span.Int("memory.device.type", 1)}},
			{Time: 1160, Name: "[memory]", Attrs: []span.Attr{span.Int("memory.bytes", -512), span.Int("memory.total_allocated", 4488), span.Int("memory.device.type", 1)}},
			{Time: 1170, Name: "[memory]", Attrs: []span.Attr{span.Int("memory.bytes", 99), span.Int("memory.total_allocated", 99999), span.Int("memory.device.type", 0)}},
		}}
	return &span.Batch{Resource: fileRes(), Spans: []span.Span{root, op,
		{TraceID: trStep0, SpanID: sid(2), Parent: sid(100), Name: "cudaStreamSynchronize", Start: 1400, End: 2100,
			Attrs: []span.Attr{span.String("kineto.category", "cuda_runtime")}},
		{TraceID: trStep0, SpanID: sid(3), Parent: sid(100), Name: "cudaMalloc", Start: 2200, End: 2300,
			Attrs: []span.Attr{span.String("kineto.category", "cuda_runtime")}},
		gpu(trStep0, 4, "gemm_a", "kernel", 3000, 3000),
		gpu(trStep0, 5, "gemm_a", "kernel", 6000, 1000),
		gpu(trStep0, 6, "attn", "kernel", 7000, 2000),
		gpu(trStep0, 7, "Memcpy HtoD (Pageable -> Device)", "gpu_memcpy", 9000, 500, span.Int("cuda.memcpy.bytes", 4096)),
	}}
}

// step1 is a prefill step (wall 20 µs) with issue 13's attributes, its
// spans in two batches (the root in the first only).
func step1() []*span.Batch {
	root := span.Span{TraceID: trStep1, SpanID: sid(100), Name: "vllm.step.prefill", Start: 20000, End: 40000,
		Attrs: []span.Attr{span.Int("vllm.step.index", 1), span.Int(AttrCtxRequests, 1), span.Int(AttrCtxTokens, 100),
			span.Int(AttrGenRequests, 0), span.Int(AttrGenTokens, 0),
			span.Int(AttrGPUBusy, 19000), span.Int(AttrGPUIdle, 1000),
			span.Int(ClassAttr("gemm"), 12000), span.Int(ClassAttr("attention"), 6000), span.Int(ClassAttr("memcpy"), 1000),
			span.Int(AttrHostWait, 600), span.Int(AttrKernelWait, 300), span.Int(AttrIdleOther, 100),
			span.Int(AttrLaunchP99, 4000), span.Strings(AttrTopKernels, []string{"gemm_b", "attn", "Memcpy DtoH (Device -> Pinned)"}),
			span.String(AttrBottleneck, "gpu_compute")}}
	return []*span.Batch{
		{Resource: fileRes(), Spans: []span.Span{root, gpu(trStep1, 10, "gemm_b", "kernel", 20000, 12000)}},
		{Resource: fileRes(), Spans: []span.Span{
			gpu(trStep1, 11, "attn", "kernel", 32000, 6000),
			gpu(trStep1, 12, "Memcpy DtoH (Device -> Pinned)", "gpu_memcpy", 38000, 1000, span.Int("cuda.memcpy.bytes", 2<<20)),
		}},
	}
}

// profile holds a kernel and a cudaFree outside every step.
func profile() *span.Batch {
	return &span.Batch{Resource: fileRes(), Spans: []span.Span{
		{TraceID: trProfile, SpanID: sid(100), Name: "vllm.profile", Start: 0, End: 50000},
		gpu(trProfile, 20, "warmup_k", "kernel", 45000, 1500),
		{TraceID: trProfile, SpanID: sid(21), Parent: sid(100), Name: "cudaFree", Start: 46000, End: 46100,
			Attrs: []span.Attr{span.String("kineto.category", "cuda_runtime")}},
	}}
}

func reqStep(tr span.TraceID, id byte, req, kind string, step span.TraceID, attributed int64) span.Span {
	attrs := []span.Attr{span.String(AttrRequestID, req), span.String(AttrStepKind, kind)}
	if attributed >= 0 {
		attrs = append(attrs, span.Int(AttrAttributed, attributed))
	}
	return span.Span{TraceID: tr, SpanID: sid(id), Parent: sid(50), Name: "vllm.request.step", Attrs: attrs,
		Links: []span.Link{{TraceID: step, SpanID: sid(100)}}}
}

// requests: a served both steps (attributed 3000 + 19000), b only step 0
// and without the attribute; the linker-written llm_request roots are
// ignored.
func requests() *span.Batch {
	return &span.Batch{Resource: &span.Resource{}, Spans: []span.Span{
		{TraceID: trReqA, SpanID: sid(50), Name: "llm_request", Attrs: []span.Attr{span.String(AttrRequestID, "a")}},
		reqStep(trReqA, 51, "a", "decode", trStep0, 3000),
		reqStep(trReqA, 52, "a", "prefill", trStep1, 19000),
		{TraceID: trReqB, SpanID: sid(50), Name: "llm_request", Attrs: []span.Attr{span.String(AttrRequestID, "b")}},
		reqStep(trReqB, 53, "b", "decode", trStep0, -1),
	}}
}

func build(t *testing.T, opts Options) *Report {
	t.Helper()
	b := NewBuilder(opts)
	batches := []*span.Batch{step0()}
	batches = append(batches, step1()...)
	batches = append(batches, profile(), requests())
	for _, bt := range batches {
		if err := b.Add(bt); err != nil {
			t.Fatal(err)
		}
	}
	return b.Report()
}

func TestStepsFromRootsAndSpans(t *testing.T) {
	r := build(t, Options{})
	if len(r.Files) != 1 || r.Files[0].Name != "rank0.pt.trace.json.gz" || r.Files[0].Steps != 2 || r.Files[0].GPU != "NVIDIA H100" {
		t.Fatalf("files %+v", r.Files)
	}
	if len(r.Steps) != 2 {
		t.Fatalf("%d steps", len(r.Steps))
	}
	s0, s1 := r.Steps[0], r.Steps[1]
	if s0.Index != 0 || s0.Kind != "decode" || s0.WallNs != 10000 || s0.Requests != 2 {
		t.Errorf("step 0: %+v", s0)
	}
	if s0.GPUSpanNs != 6500 || s0.GPUSpans != 4 || s0.MemcpyNs != [4]int64{500, 0, 0, 0} || s0.MemcpyBytes != [4]int64{4096, 0, 0, 0} || s0.MemcpyCount != 1 {
		t.Errorf("step 0 GPU sums: %+v", s0)
	}
	if s0.SyncNs != 700 || s0.SyncCalls != 1 || s0.AllocCalls != 1 || s0.AllocNs != 100 {
		t.Errorf("step 0 runtime sums: %+v", s0)
	}
	// CUDA events only: one allocation of 1024 B, peak 5000.
	if s0.MemAllocs != 1 || s0.MemAllocB != 1024 || s0.MemPeak != 5000 {
		t.Errorf("step 0 memory: allocs %d, bytes %d, peak %d", s0.MemAllocs, s0.MemAllocB, s0.MemPeak)
	}
	if s1.GPUSpanNs != 19000 || s1.MemcpyNs[1] != 1000 || s1.MemcpyBytes[1] != 2<<20 || s1.MemPeak != -1 {
		t.Errorf("step 1 sums: %+v", s1)
	}
	for _, a := range s0.Attrs {
		if a.Key == AttrRequestIDs || !strings.HasPrefix(a.Key, "vllm.step.") {
			t.Errorf("step 0 keeps %s", a.Key)
		}
	}
	if _, _, ok := s0.Dominant(); ok {
		t.Error("step 0 has no class times, yet a dominant class")
	}
	if c, ns, ok := s1.Dominant(); !ok || c != "gemm" || ns != 12000 {
		t.Errorf("step 1 dominant %s %d %v", c, ns, ok)
	}

	want := &Table{Columns: r.StepTable().Columns, Rows: [][]string{
		{"0", "decode", "0+2 (2)", "0.010", "60.0", "n/a", "n/a", "n/a"},
		{"1", "prefill", "1+0 (100)", "0.020", "95.0", "3.0", "gemm 63%", "gpu_compute"},
	}}
	if got := r.StepTable(); !reflect.DeepEqual(got.Rows, want.Rows) {
		t.Errorf("step table\n got %q\nwant %q", got.Rows, want.Rows)
	}
}

func TestKernelTablesPerKind(t *testing.T) {
	r := build(t, Options{TopKernels: 1})
	want := []KernelTable{
		{Kind: "prefill", Steps: 1, GPUNs: 19000, Names: 3,
			Rows: []KernelRow{{Name: "gemm_b", Category: "kernel", Calls: 1, TotalNs: 12000, MeanNs: 12000, MaxNs: 12000, GPUPct: 63.16}},
			Rest: KernelRow{Name: "(2 more)", Calls: 2, TotalNs: 7000, MeanNs: 3500, MaxNs: 6000, GPUPct: 36.84}},
		{Kind: "decode", Steps: 1, GPUNs: 6500, Names: 3,
			Rows: []KernelRow{{Name: "gemm_a", Category: "kernel", Calls: 2, TotalNs: 4000, MeanNs: 2000, MaxNs: 3000, GPUPct: 61.54}},
			Rest: KernelRow{Name: "(2 more)", Calls: 2, TotalNs: 2500, MeanNs: 1250, MaxNs: 2000, GPUPct: 38.46}},
		{Kind: "profile", GPUNs: 1500, Names: 1,
			Rows: []KernelRow{{Name: "warmup_k", Category: "kernel", Calls: 1, TotalNs: 1500, MeanNs: 1500, MaxNs: 1500, GPUPct: 100}}},
	}
	if !reflect.DeepEqual(r.Kernels, want) {
		t.Errorf("kernel tables\n got %+v\nwant %+v", r.Kernels, want)
	}
	// Over both steps: gemm_b 12000, attn 8000, gemm_a 4000 of 25500.
	top := []KernelRow{
		{Name: "gemm_b", Category: "kernel", Calls: 1, TotalNs: 12000, MeanNs: 12000, MaxNs: 12000, GPUPct: 47.06},
		{Name: "attn", Category: "kernel", Calls: 2, TotalNs: 8000, MeanNs: 4000, MaxNs: 6000, GPUPct: 31.37},
		{Name: "gemm_a", Category: "kernel", Calls: 2, TotalNs: 4000, MeanNs: 2000, MaxNs: 3000, GPUPct: 15.69},
	}
	if !reflect.DeepEqual(r.Top, top) {
		t.Errorf("top\n got %+v\nwant %+v", r.Top, top)
	}
	// The longest run of each name (memcpys are not kernels), outside
	// steps too: attn's second run (2000) is not listed.
	longest := []KernelRun{
		{Name: "gemm_b", DurNs: 12000, Step: 1, Kind: "prefill"},
		{Name: "attn", DurNs: 6000, Step: 1, Kind: "prefill"},
		{Name: "gemm_a", DurNs: 3000, Step: 0, Kind: "decode"},
		{Name: "warmup_k", DurNs: 1500, Step: -1, Kind: "profile"},
	}
	if !reflect.DeepEqual(r.Longest, longest) {
		t.Errorf("longest\n got %+v\nwant %+v", r.Longest, longest)
	}
}

func TestClassifyHook(t *testing.T) {
	classes := map[string]string{"gemm_a": "gemm", "gemm_b": "gemm", "attn": "attention"}
	r := build(t, Options{Classify: func(name, cat string) string {
		if cat == "gpu_memcpy" {
			return "memcpy"
		}
		if c, ok := classes[name]; ok {
			return c
		}
		return "other"
	}})
	want := map[string]int64{"gemm": 16000, "attention": 8000, "memcpy": 1500}
	if !r.Classified || !reflect.DeepEqual(r.ClassNs, want) {
		t.Errorf("class times %v, want %v", r.ClassNs, want)
	}
	if got := r.Kernels[0].Rows[0].Class; got != "gemm" {
		t.Errorf("gemm_b class %q", got)
	}
	tv := r.KernelTableView(r.Kernels[1])
	if tv.Columns[1].Name != "class" || tv.Rows[0][1] != "gemm" || tv.Rows[1][1] != "attention" {
		t.Errorf("decode kernel table %q", tv.Rows)
	}
	top := r.Checklist[5]
	if !strings.HasSuffix(top.Finding, "; class other (unclassified kernels) 0.0%") {
		t.Errorf("top kernels finding %q", top.Finding)
	}
	// Without the hook there is no class column.
	if c := build(t, Options{}).KernelTableView(r.Kernels[1]).Columns[1].Name; c != "calls" {
		t.Errorf("unclassified table's second column %q", c)
	}
}

func TestRequests(t *testing.T) {
	r := build(t, Options{})
	att := int64(22000)
	gc := "gpu_compute"
	want := []RequestRow{
		{ID: "a", Steps: 2, StepsByKind: map[string]int{"decode": 1, "prefill": 1}, AttributedNs: &att,
			Slowest: &StepRef{Step: 1, File: 0, Index: 1, Kind: "prefill", WallNs: 20000, Bottleneck: &gc}},
		{ID: "b", Steps: 1, StepsByKind: map[string]int{"decode": 1},
			Slowest: &StepRef{Step: 0, File: 0, Index: 0, Kind: "decode", WallNs: 10000}},
	}
	if !reflect.DeepEqual(r.Requests, want) {
		t.Errorf("requests\n got %+v\nwant %+v", r.Requests, want)
	}
	rows := r.RequestTable().Rows
	wantRows := [][]string{
		{"a", "2", "1 decode, 1 prefill", "0.022", "1 (prefill), 0.020 ms, bottleneck gpu_compute"},
		{"b", "1", "1 decode", "n/a", "0 (decode), 0.010 ms, bottleneck n/a"},
	}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Errorf("request table\n got %q\nwant %q", rows, wantRows)
	}
}

func TestChecklist(t *testing.T) {
	r := build(t, Options{Thresholds: Thresholds{LongKernelNs: 5000, IdleShare: 0.3, HostWaitShare: 0.02, BusyShare: 0.9, MemcpyShare: 0.05}})
	want := []Finding{
		{Item: ItemLongKernels, Status: "flag",
			Finding:  "2 kernel runs took 5.0 µs or longer; the longest, gemm_b, ran 12.0 µs",
			Evidence: []string{"gemm_b: 12.0 µs in step 1 (prefill)", "attn: 6.0 µs in step 1 (prefill)", "gemm_a: 3.0 µs in step 0 (decode)", "warmup_k: 1.5 µs outside every step"},
			Steps:    []int{1, 0}},
		// Step 1 has the host-wait split (600 of 20000 = 3% >= 2%); step 0
		// lacks it and is not judged by its idle share then.
		{Item: ItemGPUIdle, Status: "flag",
			Finding:  "GPU idle 5.0 µs of 30.0 µs step time (16.7%), of which waiting for the host 600 ns (2.0%); 0 of 1 steps have vllm.step.bottleneck host or launch_bound; 1 of 2 steps where the GPU waited for the host 2% of the step or more",
			Evidence: []string{"step 1 (prefill): idle 1.0 µs of 20.0 µs, host wait 600 ns, launch delay p99 4.0 µs"},
			Steps:    []int{1}},
		{Item: ItemCPUIdle, Status: "flag",
			Finding:  "GPU busy 25.0 µs of 30.0 µs step time (83.3%); the host blocked 700 ns in 1 cuda*Synchronize calls; 1 of 1 steps have vllm.step.bottleneck gpu_compute or communication or memory_copy; 1 of 2 steps where the GPU was busy 90% of the step or more",
			Evidence: []string{"step 1 (prefill): busy 19.0 µs of 20.0 µs, host blocked in sync 0 ns, mostly gemm (12.0 µs)"},
			Steps:    []int{1}},
		// 500/6500 = 7.7% and 1000/19000 = 5.3%, both >= 5%.
		{Item: ItemMemcpy, Status: "flag",
			Finding:  "2 copies took 1.5 µs, 5.9% of the steps' GPU time (htod 4.0 KiB in 500 ns, dtoh 2.0 MiB in 1.0 µs); 2 of 2 steps where copies took 5% of the GPU time or more",
			Evidence: []string{"step 0 (decode): 1 copies, 4.0 KiB in 500 ns (8% of its GPU time)", "step 1 (prefill): 1 copies, 2.0 MiB in 1.0 µs (5% of its GPU time)"},
			Steps:    []int{0, 1}},
		{Item: ItemAlloc, Status: "flag",
			Finding:  "1 cudaMalloc/cudaFree calls inside steps (100 ns), 1 outside; 1 CUDA allocations in [memory] events, 1.0 KiB, peak allocated 4.9 KiB",
			Evidence: []string{"step 0 (decode): 1 calls, 100 ns"},
			Steps:    []int{0}},
		{Item: ItemTopKernels, Status: "info",
			Finding:  "of the steps' GPU time: gemm_b 47.1%, attn 31.4%, gemm_a 15.7%",
			Evidence: []string{"gemm_b: 1 calls, 12.0 µs, mean 12.0 µs", "attn: 2 calls, 8.0 µs, mean 4.0 µs", "gemm_a: 2 calls, 4.0 µs, mean 2.0 µs"},
			Steps:    []int{}},
	}
	if len(r.Checklist) != len(want) {
		t.Fatalf("%d items", len(r.Checklist))
	}
	for i := range want {
		if !reflect.DeepEqual(r.Checklist[i], want[i]) {
			t.Errorf("item %d\n got %#v\nwant %#v", i, r.Checklist[i], want[i])
		}
	}
}

func TestChecklistWithoutAttributesSaysNA(t *testing.T) {
	b := NewBuilder(Options{})
	root := span.Span{TraceID: trStep0, SpanID: sid(100), Name: "vllm.step.empty", Start: 0, End: 100,
		Attrs: []span.Attr{span.Int("vllm.step.index", 0)}}
	if err := b.Add(&span.Batch{Resource: fileRes(), Spans: []span.Span{root}}); err != nil {
		t.Fatal(err)
	}
	r := b.Report()
	for _, f := range r.Checklist {
		want := "n/a"
		if f.Item == ItemAlloc {
			want = "ok" // no cudaMalloc call: nothing missing to say that
		}
		if f.Status != want {
			t.Errorf("%s: %s (%s), want %s", f.Item, f.Status, f.Finding, want)
		}
	}
	if got := r.StepTable().Rows[0]; !reflect.DeepEqual(got, []string{"0", "empty", "n/a", "0.000", "n/a", "n/a", "n/a", "n/a"}) {
		t.Errorf("row %q", got)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Steps []map[string]any }
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range append(contractStepKeys(), "dominant_class", "gpu_busy_pct", "host_wait_pct") {
		v, ok := doc.Steps[0][k]
		if !ok || v != nil {
			t.Errorf("JSON step %s = %v (present %v), want null", k, v, ok)
		}
	}
}

func TestJSONStepsUseAttributeNames(t *testing.T) {
	r := build(t, Options{})
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Steps []map[string]any
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	s1 := doc.Steps[1]
	for k, v := range map[string]any{
		"vllm.step.index": 1.0, "vllm.step.kind": "prefill", "vllm.step.gpu_time.gemm_ns": 12000.0,
		"vllm.step.gpu_time.norm_ns": nil, "vllm.step.gpu_idle.host_wait_ns": 600.0, "vllm.step.bottleneck": "gpu_compute",
		"vllm.step.top_kernels": []any{"gemm_b", "attn", "Memcpy DtoH (Device -> Pinned)"},
		"wall_ns":               20000.0, "gpu_busy_pct": 95.0, "host_wait_pct": 3.0, "dominant_class": "gemm", "memcpy_dtoh_bytes": float64(2 << 20),
	} {
		if !reflect.DeepEqual(s1[k], v) {
			t.Errorf("steps[1][%q] = %#v, want %#v", k, s1[k], v)
		}
	}
	if _, ok := doc.Steps[0][AttrRequestIDs]; ok {
		t.Error("request ids in the JSON step")
	}
}

func TestDuplicateStepTraceIsAnError(t *testing.T) {
	b := NewBuilder(Options{})
	if err := b.Add(step0()); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(step0()); err == nil || !strings.Contains(err.Error(), "seen twice") {
		t.Errorf("second copy of a step: %v", err)
	}
}

// The builder keeps aggregates, not spans: feeding it 200,000 more kernel
// spans of the same names leaves its heap where it was.
func TestMemoryFlatInSpans(t *testing.T) {
	b := NewBuilder(Options{})
	names := []string{"k0", "k1", "k2", "k3"}
	feed := func(step byte, n int) {
		tr := span.TraceID{0xee, step}
		spans := []span.Span{{TraceID: tr, SpanID: sid(100), Name: "vllm.step.decode", Start: 0, End: 1 << 40,
			Attrs: []span.Attr{span.Int("vllm.step.index", int64(step))}}}
		for i := range n {
			spans = append(spans, gpu(tr, 1, names[i%len(names)], "kernel", int64(i), 10))
			if len(spans) == 4096 {
				if err := b.Add(&span.Batch{Resource: fileRes(), Spans: spans}); err != nil {
					t.Fatal(err)
				}
				spans = spans[:0]
			}
		}
		if err := b.Add(&span.Batch{Resource: fileRes(), Spans: spans}); err != nil {
			t.Fatal(err)
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	feed(0, 10_000)
	before := heap()
	feed(1, 200_000)
	after := heap()
	// 200,000 spans kept would be tens of MB; allow 256 KiB of noise.
	if after > before+256<<10 {
		t.Errorf("heap grew from %d to %d bytes over 200,000 spans", before, after)
	}
	if r := b.Report(); r.Kernels[0].Rows[0].Calls != 52_500 {
		t.Errorf("k0 calls %d, want 52500", r.Kernels[0].Rows[0].Calls)
	}
}

// One short name running functors of two classes gives two rows: the
// class comes from the full name (cuda.kernel.name), as the converter
// classifies.
func TestClassifyByFullName(t *testing.T) {
	b := NewBuilder(Options{Classify: func(name, cat string) string {
		if strings.Contains(name, "Norm") {
			return "norm"
		}
		return "elementwise"
	}})
	root := span.Span{TraceID: trStep0, SpanID: sid(100), Name: "vllm.step.decode", End: 100, Attrs: []span.Attr{span.Int("vllm.step.index", 0)}}
	full := func(n string) span.Attr { return span.String("cuda.kernel.name", n) }
	err := b.Add(&span.Batch{Resource: fileRes(), Spans: []span.Span{root,
		gpu(trStep0, 1, "elementwise_kernel", "kernel", 0, 10, full("void at::native::elementwise_kernel<RMSNormFunctor>(int)")),
		gpu(trStep0, 2, "elementwise_kernel", "kernel", 10, 20, full("void at::native::elementwise_kernel<AddFunctor>(int)")),
		gpu(trStep0, 3, "elementwise_kernel", "kernel", 30, 5, full("void at::native::elementwise_kernel<AddFunctor>(int)")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := b.Report()
	want := []KernelRow{
		{Name: "elementwise_kernel", Category: "kernel", Class: "elementwise", Calls: 2, TotalNs: 25, MeanNs: 12, MaxNs: 20, GPUPct: 71.43},
		{Name: "elementwise_kernel", Category: "kernel", Class: "norm", Calls: 1, TotalNs: 10, MeanNs: 10, MaxNs: 10, GPUPct: 28.57},
	}
	if !reflect.DeepEqual(r.Kernels[0].Rows, want) {
		t.Errorf("rows\n got %+v\nwant %+v", r.Kernels[0].Rows, want)
	}
	if !reflect.DeepEqual(r.ClassNs, map[string]int64{"elementwise": 25, "norm": 10}) {
		t.Errorf("class times %v", r.ClassNs)
	}
}

// Long runs are counted, not only the ones listed: with a 1 µs threshold
// all six kernel runs of the batches are long (12, 6, 3, 1, 2 and 1.5 µs),
// four names are listed.
func TestLongRunsCountedBeyondTheList(t *testing.T) {
	r := build(t, Options{Thresholds: Thresholds{LongKernelNs: 1000}})
	f := r.Checklist[0]
	if r.LongRuns != 6 || len(r.Longest) != 4 || f.Status != "flag" ||
		f.Finding != "6 kernel runs took 1.0 µs or longer; the longest, gemm_b, ran 12.0 µs" {
		t.Errorf("long runs %d, %d listed, finding %s %q", r.LongRuns, len(r.Longest), f.Status, f.Finding)
	}
}
