package rankjoin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/tracefile"
)

// rec is what a test keeps of an emitted span.
type rec struct {
	trace     span.TraceID
	id, par   span.SpanID
	name      string
	start     int64
	end       int64
	attrs     []span.Attr
	resource  []span.Attr
	wasSorted bool
}

type sinkRec struct{ spans []rec }

func (s *sinkRec) emit(b *span.Batch) error {
	for _, sp := range b.Spans {
		attrs := make([]span.Attr, len(sp.Attrs))
		for i, a := range sp.Attrs {
			attrs[i] = a
			attrs[i].Value.Ints = slices.Clone(a.Value.Ints)
			attrs[i].Value.Strs = slices.Clone(a.Value.Strs)
		}
		s.spans = append(s.spans, rec{trace: sp.TraceID, id: sp.SpanID, par: sp.Parent, name: sp.Name,
			start: sp.Start, end: sp.End, attrs: attrs, resource: slices.Clone(b.Resource.Attrs)})
	}
	return nil
}

// partsRec records every part a conversion hands to its sink.
type partsRec struct{ parts []converter.RankStep }

func (p *partsRec) AddStep(s converter.RankStep) error {
	p.parts = append(p.parts, converter.CloneRankStep(s))
	return nil
}

// convertFile converts data as the daemon would a file named name (its
// name's ranks in the resource, service.name vllm), with sink as
// Options.Steps (nil: the converter writes lone roots).
func convertFile(t testing.TB, name string, data []byte, sink converter.StepSink) *sinkRec {
	t.Helper()
	opts := converter.DefaultOptions()
	opts.MaxSpansPerTrace = 0
	opts.IdentityAttrs = []span.Attr{span.String("service.name", "vllm")}
	opts.Resource = []span.Attr{span.String("service.name", "vllm")}
	if info, ok := tracefile.Parse(name); ok {
		opts.Resource = append(opts.Resource, info.ResourceAttrs()...)
	}
	opts.Steps = sink
	out := &sinkRec{}
	if _, err := converter.Convert(context.Background(), bytes.NewReader(data), opts, out.emit); err != nil {
		t.Fatalf("converting %s: %v", name, err)
	}
	return out
}

func intAttr(t testing.TB, attrs []span.Attr, k string) int64 {
	t.Helper()
	v, ok := span.Lookup(attrs, k)
	if !ok || v.Type != span.TypeInt {
		t.Fatalf("no int attribute %s in %v", k, attrs)
	}
	return v.Num
}

func intsAttr(attrs []span.Attr, k string) []int64 {
	v, _ := span.Lookup(attrs, k)
	return v.Ints
}

// --- synthetic ranks ----------------------------------------------------

// rankTrace is a synthetic two-rank trace: steps of one compute kernel
// and one all-reduce each. compute[k] is the compute kernel's duration
// in step k (µs), launch[k] the delay of its launch after the step
// starts, startOff the rank's start offset (µs; ranks never start at
// quite the same time); with sync the all-reduce ends at the same time
// on every rank (it waits for the last one), given by syncEnd.
type rankTrace struct {
	rank              int
	startOff          float64
	compute, launch   []float64
	ncclDur           float64   // all-reduce duration when not synced
	syncEnd           []float64 // per step, the all-reduce's end (µs from the step's nominal start); nil = not synced
	annotation, names []string
	world             int // distributedInfo's world_size; 0 = 2, -1 = no distributedInfo
}

const (
	synthBase  = 1790857026000000000
	synthStart = 4933602982617.0 // µs, as in the TP=2 fixture
	stepGap    = 10000.0         // µs between step starts
)

func (r rankTrace) json() []byte {
	var ev []string
	corr := 100
	for k := range r.compute {
		s := synthStart + float64(k)*stepGap + r.startOff
		nominal := synthStart + float64(k)*stepGap
		name := "execute_context_0(0)_generation_16(16)"
		if k < len(r.names) {
			name = r.names[k]
		}
		ev = append(ev, fmt.Sprintf(`{"ph":"X","cat":"user_annotation","name":%q,"pid":600,"tid":600,"ts":%.3f,"dur":100}`, name, s))
		l := s + 10 + r.launch[k]
		ev = append(ev, fmt.Sprintf(`{"ph":"X","cat":"cpu_op","name":"aten::mm","pid":600,"tid":600,"ts":%.3f,"dur":5}`, l))
		ev = append(ev, fmt.Sprintf(`{"ph":"X","cat":"cuda_runtime","name":"cudaLaunchKernel","pid":600,"tid":600,"ts":%.3f,"dur":2,"args":{"correlation":%d}}`, l+1, corr))
		ks := l + 20
		ev = append(ev, fmt.Sprintf(`{"ph":"X","cat":"kernel","name":"void gemm_kernel<128>(float*)","pid":%d,"tid":7,"ts":%.3f,"dur":%.3f,"args":{"device":%d,"stream":7,"correlation":%d}}`, r.rank, ks, r.compute[k], r.rank, corr))
		corr++
		ev = append(ev, fmt.Sprintf(`{"ph":"X","cat":"cuda_runtime","name":"cudaLaunchKernel","pid":600,"tid":600,"ts":%.3f,"dur":2,"args":{"correlation":%d}}`, l+3, corr))
		ns := ks + r.compute[k]
		nd := r.ncclDur
		if r.syncEnd != nil {
			nd = nominal + r.syncEnd[k] - ns
		}
		ev = append(ev, fmt.Sprintf(`{"ph":"X","cat":"kernel","name":"ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)","pid":%d,"tid":21,"ts":%.3f,"dur":%.3f,"args":{"device":%d,"stream":21,"correlation":%d}}`, r.rank, ns, nd, r.rank, corr))
		corr++
	}
	dist := fmt.Sprintf(`"distributedInfo":{"backend":"nccl","rank":%d,"world_size":%d},`, r.rank, max(r.world, 2))
	if r.world < 0 {
		dist = ""
	}
	return []byte(fmt.Sprintf(`{"schemaVersion":1,%s"baseTimeNanoseconds":%d,"traceEvents":[%s]}`,
		dist, int64(synthBase), strings.Join(ev, ",\n")))
}

func synthName(rank int) string {
	return fmt.Sprintf("dp0_pp0_tp%d_dcp0_ep0_rank%d.1795790631311526402.pt.trace.json", rank, rank)
}

// joinBoth converts the two ranks into one Joiner (Hold) and returns the
// step roots by step index, with every span emitted.
func joinBoth(t *testing.T, a, b rankTrace) (map[int64]rec, []rec) {
	t.Helper()
	roots := &sinkRec{}
	j := New(roots.emit, Options{})
	var all []rec
	for _, r := range []rankTrace{a, b} {
		out := &sinkRec{}
		res := convertFile(t, synthName(r.rank), r.json(), j.ForFile(out.emit))
		all = append(all, res.spans...)
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	all = append(all, roots.spans...)
	byStep := map[int64]rec{}
	for _, s := range roots.spans {
		byStep[intAttr(t, s.attrs, "vllm.step.index")] = s
	}
	return byStep, all
}

// A rank whose compute kernel is slow, collectives not waiting (each
// all-reduce the same length): it is the slowest by its own step time and
// the skew is exactly the extra time.
func TestStragglerSlowKernel(t *testing.T) {
	r0 := rankTrace{rank: 0, compute: []float64{300, 300}, launch: []float64{0, 0}, ncclDur: 40}
	r1 := rankTrace{rank: 1, startOff: 37.5, compute: []float64{300, 2300}, launch: []float64{0, 0}, ncclDur: 40}
	roots, all := joinBoth(t, r0, r1)
	if len(roots) != 2 {
		t.Fatalf("%d step roots, want 2", len(roots))
	}
	checkTree(t, all)
	s := roots[1]
	if got := intAttr(t, s.attrs, "vllm.step.ranks"); got != 2 {
		t.Fatalf("vllm.step.ranks = %d", got)
	}
	if got := intAttr(t, s.attrs, "vllm.step.slowest_rank"); got != 1 {
		t.Errorf("slowest rank %d, want 1", got)
	}
	if got := intAttr(t, s.attrs, "vllm.step.rank_skew_ns"); got != 2_000_000 {
		t.Errorf("skew %d ns, want exactly 2000000", got)
	}
	if got := intAttr(t, s.attrs, "vllm.step.rank_wall_skew_ns"); got != 2_000_000 {
		t.Errorf("wall skew %d ns, want exactly 2000000", got)
	}
	if got := intsAttr(s.attrs, "vllm.step.rank_collective_wait_ns"); !slices.Equal(got, []int64{0, 0}) {
		t.Errorf("collective wait %v, want [0 0]", got)
	}
	if got := intsAttr(s.attrs, "vllm.step.rank_comm_ns"); !slices.Equal(got, []int64{40_000, 40_000}) {
		t.Errorf("comm %v, want [40000 40000]", got)
	}
	// The step where nobody was late: no skew.
	if got := intAttr(t, roots[0].attrs, "vllm.step.rank_skew_ns"); got != 0 {
		t.Errorf("step 0 skew %d, want 0", got)
	}
	// The root spans both ranks' steps.
	if want := int64(synthBase + (synthStart+stepGap)*1000); s.start != want {
		t.Errorf("root starts at %d, want rank 0's start %d", s.start, want)
	}
}

// A rank that launches late, the all-reduce synchronising: both ranks
// leave it together (equal wall times but for the start offset), rank 0
// waits in it for exactly the delay, and rank 1 is named.
func TestStragglerLateLaunch(t *testing.T) {
	// The all-reduce ends 60 µs after the later rank's compute kernel.
	end := func(launch float64) float64 { return 10 + launch + 20 + 300 + 60 }
	r0 := rankTrace{rank: 0, compute: []float64{300, 300}, launch: []float64{0, 0}, syncEnd: []float64{end(0), end(1500)}}
	r1 := rankTrace{rank: 1, compute: []float64{300, 300}, launch: []float64{0, 1500}, syncEnd: []float64{end(0), end(1500)}}
	roots, all := joinBoth(t, r0, r1)
	checkTree(t, all)
	s := roots[1]
	if got := intAttr(t, s.attrs, "vllm.step.slowest_rank"); got != 1 {
		t.Errorf("slowest rank %d, want 1", got)
	}
	if got := intsAttr(s.attrs, "vllm.step.rank_collective_wait_ns"); !slices.Equal(got, []int64{1_500_000, 0}) {
		t.Errorf("collective wait %v, want [1500000 0]", got)
	}
	if got := intAttr(t, s.attrs, "vllm.step.rank_skew_ns"); got != 1_500_000 {
		t.Errorf("skew %d ns, want exactly 1500000", got)
	}
	if got := intAttr(t, s.attrs, "vllm.step.rank_wall_skew_ns"); got != 0 {
		t.Errorf("wall skew %d ns, want 0 (both leave the all-reduce together)", got)
	}
	if got := intAttr(t, roots[0].attrs, "vllm.step.rank_skew_ns"); got != 0 {
		t.Errorf("step 0 skew %d, want 0", got)
	}
}

// Windows whose step annotations differ, or that started seconds apart,
// never share a trace; nor do single-GPU engines' files (no
// distributedInfo) with the same steps at the same time.
func TestDifferentWindowsNeverMerge(t *testing.T) {
	single := rankTrace{rank: 0, world: -1, compute: []float64{300, 300}, launch: []float64{0, 0}, ncclDur: 40}
	name := "host-a_600.1795790631311526402.pt.trace.json"
	a := traceIDs(convertFile(t, name, single.json(), nil))
	single.startOff = 3 // another engine, 3 µs later
	for id := range traceIDs(convertFile(t, "host-b_600.1795790631311526402.pt.trace.json", single.json(), nil)) {
		if a[id] {
			t.Errorf("two single-GPU engines share trace %s", id)
		}
	}
	r0 := rankTrace{rank: 0, compute: []float64{300, 300}, launch: []float64{0, 0}, ncclDur: 40}
	other := rankTrace{rank: 1, compute: []float64{300, 300}, launch: []float64{0, 0}, ncclDur: 40,
		names: []string{"execute_context_1(20)_generation_15(15)"}}
	late := rankTrace{rank: 1, startOff: 3e6, compute: []float64{300, 300}, launch: []float64{0, 0}, ncclDur: 40}
	base := traceIDs(convertFile(t, synthName(0), r0.json(), nil))
	for _, r := range []rankTrace{other, late} {
		for id := range traceIDs(convertFile(t, synthName(1), r.json(), nil)) {
			if base[id] {
				t.Errorf("a different window shares trace %s", id)
			}
		}
	}
}

func traceIDs(r *sinkRec) map[span.TraceID]bool {
	out := map[span.TraceID]bool{}
	for _, s := range r.spans {
		out[s.trace] = true
	}
	return out
}

// checkTree: one root per trace, every parent in its trace, no span id
// twice (testkit.CheckTrees).
func checkTree(t *testing.T, spans []rec) {
	t.Helper()
	refs := make([]testkit.SpanRef, len(spans))
	for i, s := range spans {
		refs[i] = testkit.SpanRef{Trace: s.trace, ID: s.id, Parent: s.par, Name: s.name}
	}
	testkit.CheckTrees(t, refs)
}

// --- the TP=2 fixture ---------------------------------------------------

const tp2Dir = "../testdata/h100-tp2"

func tp2Files(t *testing.T) (names []string, data [][]byte) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(tp2Dir, "*.pt.trace.json.gz"))
	if err != nil || len(paths) != 2 {
		t.Fatalf("TP=2 fixture: %v %v", paths, err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(p))
		data = append(data, b)
	}
	return names, data
}

type spanKey struct {
	trace   span.TraceID
	id, par span.SpanID
	name    string
}

func keys(spans []rec) map[spanKey]bool {
	out := map[spanKey]bool{}
	for _, s := range spans {
		out[spanKey{s.trace, s.id, s.par, s.name}] = true
	}
	return out
}

// TestTP2 converts the two ranks' files of the TP=2 fixture in one call
// (one Joiner), in the reverse order, and each alone (lone roots, as two
// separate convert calls write them): the same trace ids and span sets
// every time; one trace per profiled step holding both ranks.
func TestTP2(t *testing.T) {
	names, data := tp2Files(t)
	var rank [2]*sinkRec
	var parts [2]*partsRec
	for i := range names {
		parts[i] = &partsRec{}
		rank[i] = convertFile(t, names[i], data[i], parts[i])
	}
	// One call, both orders: the Joiner fed as a conversion feeds it.
	joined := func(order ...int) []rec {
		roots := &sinkRec{}
		j := New(roots.emit, Options{})
		var all []rec
		for _, i := range order {
			s := j.ForFile(roots.emit)
			for _, p := range parts[i].parts {
				if err := s.AddStep(p); err != nil {
					t.Fatal(err)
				}
			}
			all = append(all, rank[i].spans...)
		}
		if err := j.Flush(); err != nil {
			t.Fatal(err)
		}
		if st := j.Stats(); st.Conflicts != 0 || st.Complete != 20 {
			t.Errorf("joiner stats %+v, want 20 complete steps, no conflict", st)
		}
		return append(all, roots.spans...)
	}
	forward, reverse := joined(0, 1), joined(1, 0)
	// Separate calls: each file converted alone writes its own roots.
	var separate []rec
	for i := range names {
		separate = append(separate, convertFile(t, names[i], data[i], nil).spans...)
	}
	checkTree(t, forward)
	kf, kr, ks := keys(forward), keys(reverse), keys(separate)
	if len(kf) != len(forward) {
		t.Fatalf("%d spans but %d distinct", len(forward), len(kf))
	}
	for k := range kf {
		if !kr[k] || !ks[k] {
			t.Fatalf("span %s %s in one call's output but not in the reverse order's (%v) or the separate calls' (%v)", k.name, k.id, kr[k], ks[k])
		}
	}
	if len(kr) != len(kf) {
		t.Fatalf("reverse order: %d spans, forward %d", len(kr), len(kf))
	}
	// The separate calls give every span once per rank that writes it:
	// each root twice (same ids), everything else once.
	if len(ks) != len(kf) || len(separate) != len(forward)+20 {
		t.Fatalf("separate calls: %d spans (%d distinct), one call %d", len(separate), len(ks), len(forward))
	}

	// One trace per profiled step, with both ranks under its root.
	var roots []rec
	rankSpans := map[span.TraceID][]rec{}
	traces := map[span.TraceID]bool{}
	for _, s := range forward {
		traces[s.trace] = true
		if s.par.IsZero() && strings.HasPrefix(s.name, "vllm.step.") {
			roots = append(roots, s)
		}
		if s.name == converter.RankStepSpanName {
			rankSpans[s.trace] = append(rankSpans[s.trace], s)
		}
	}
	if len(roots) != 20 || len(traces) != 22 { // 20 steps + 2 profile traces
		t.Fatalf("%d step roots in %d traces, want 20 steps (+ 2 profile traces)", len(roots), len(traces))
	}
	for _, r := range roots {
		rs := rankSpans[r.trace]
		if len(rs) != 2 || intAttr(t, r.attrs, "vllm.step.ranks") != 2 {
			t.Fatalf("step %d: %d rank spans, vllm.step.ranks %d", intAttr(t, r.attrs, "vllm.step.index"), len(rs), intAttr(t, r.attrs, "vllm.step.ranks"))
		}
		got := []int64{intAttr(t, rs[0].attrs, "vllm.rank"), intAttr(t, rs[1].attrs, "vllm.rank")}
		slices.Sort(got)
		if !slices.Equal(got, []int64{0, 1}) || intAttr(t, rs[1].attrs, "vllm.tp_rank") != intAttr(t, rs[1].attrs, "vllm.rank") {
			t.Fatalf("rank spans of ranks %v", got)
		}
		for _, p := range rs {
			if p.par != r.id || p.start < r.start || p.end > r.end {
				t.Fatalf("rank span outside its root")
			}
		}
		if w := intsAttr(r.attrs, "vllm.step.rank_collective_wait_ns"); len(w) != 2 {
			t.Fatalf("step %d: no collective wait (collectives unmatched?)", intAttr(t, r.attrs, "vllm.step.index"))
		}
		if _, ok := span.Lookup(r.resource, "vllm.rank"); ok {
			t.Fatal("the step root's resource names a rank")
		}
	}
	var skews []string
	for _, r := range roots {
		skews = append(skews, fmt.Sprintf("step %d: slowest %d skew %d ns wall skew %d ns wait %v comm %v",
			intAttr(t, r.attrs, "vllm.step.index"), intAttr(t, r.attrs, "vllm.step.slowest_rank"), intAttr(t, r.attrs, "vllm.step.rank_skew_ns"),
			intAttr(t, r.attrs, "vllm.step.rank_wall_skew_ns"), intsAttr(r.attrs, "vllm.step.rank_collective_wait_ns"), intsAttr(r.attrs, "vllm.step.rank_comm_ns")))
	}
	sort.Strings(skews)
	t.Logf("%d spans, %d traces\n%s", len(forward), len(traces), strings.Join(skews, "\n"))
	// Both ranks' NCCL kernels in one trace.
	nccl := map[span.TraceID]map[string]bool{}
	for _, s := range forward {
		if strings.HasPrefix(s.name, "ncclDevKernel") {
			if nccl[s.trace] == nil {
				nccl[s.trace] = map[string]bool{}
			}
			f, _ := span.Lookup(s.resource, "vllm.trace.file")
			nccl[s.trace][f.Str] = true
		}
	}
	for _, r := range roots {
		if len(nccl[r.trace]) != 2 {
			t.Fatalf("step trace %s holds NCCL kernels of %d files", r.trace, len(nccl[r.trace]))
		}
	}
	// The order does not change the roots.
	rootsOf := func(spans []rec) map[span.SpanID]string {
		out := map[span.SpanID]string{}
		for _, s := range spans {
			if s.par.IsZero() {
				out[s.id] = fmt.Sprint(s.start, s.end, s.attrs, s.resource)
			}
		}
		return out
	}
	rf, rr := rootsOf(forward), rootsOf(reverse)
	for id, v := range rf {
		if rr[id] != v {
			t.Fatalf("root %s differs with the order:\n%s\n%s", id, v, rr[id])
		}
	}
}
