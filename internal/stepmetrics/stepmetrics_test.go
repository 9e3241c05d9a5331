package stepmetrics

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func tid(b byte) span.TraceID { return span.TraceID{0xa0, 15: b} }
func sid(b byte) span.SpanID  { return span.SpanID{0xb0, 7: b} }

const t0 = int64(1_700_000_000_000_000_000)

// stepBatch is one trace file's batch as the converter and the insights
// write it: three steps' vllm.rank.step spans (each under its step's
// root), a root that repeats one rank's figures, a child span, the
// profile root.
func stepBatch() *span.Batch {
	return &span.Batch{
		Resource: &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm"), span.Int("vllm.rank", 1)}},
		Spans: []span.Span{
			{TraceID: tid(1), SpanID: sid(11), Parent: sid(1), Name: "vllm.rank.step", Start: t0, End: t0 + 4_000_000, Attrs: []span.Attr{
				span.String("vllm.step.kind", "decode"),
				span.Int("vllm.step.gpu_busy_ns", 3_000_000),
				span.Int("vllm.step.gpu_idle.host_wait_ns", 400_000),
				span.String("vllm.step.bottleneck", "launch_bound"),
				span.Int("vllm.step.gpu_time.gemm_ns", 2_000_000),
				span.Int("vllm.step.gpu_time.attention_ns", 500_000),
			}},
			// The step's root carries one rank's figures again (and may be
			// written once more per rank): never counted.
			{TraceID: tid(1), SpanID: sid(1), Name: "vllm.step.decode", Start: t0, End: t0 + 4_000_000, Attrs: []span.Attr{
				span.Int("vllm.step.gpu_busy_ns", 3_000_000),
				span.String("vllm.step.bottleneck", "launch_bound"),
				span.Int("vllm.step.gpu_time.gemm_ns", 2_000_000),
			}},
			// A kernel of that step: never counted, whatever it carries.
			{TraceID: tid(1), SpanID: sid(2), Parent: sid(11), Name: "vllm.step.decode", Start: t0, End: t0 + 1_000_000, Attrs: []span.Attr{
				span.Int("vllm.step.gpu_busy_ns", 99), span.Int("vllm.request.gpu_attributed_ns", 99),
			}},
			{TraceID: tid(2), SpanID: sid(3), Parent: sid(30), Name: "vllm.rank.step", Start: t0, End: t0 + 20_000_000, Attrs: []span.Attr{
				span.String("vllm.step.kind", "prefill"),
				span.Int("vllm.step.gpu_busy_ns", 18_000_000),
				span.String("vllm.step.bottleneck", "gpu_compute"),
				span.Int("vllm.step.gpu_time.gemm_ns", 15_000_000),
				span.Int("vllm.step.gpu_time.communication_ns", 3_000_000),
			}},
			// An unknown kind and bottleneck fall into "unknown".
			{TraceID: tid(3), SpanID: sid(4), Parent: sid(40), Name: "vllm.rank.step", Start: t0, End: t0 + 1_000_000, Attrs: []span.Attr{
				span.String("vllm.step.kind", "something_new"),
				span.String("vllm.step.bottleneck", "cosmic_rays"),
			}},
			{TraceID: tid(4), SpanID: sid(5), Name: "vllm.profile", Start: t0, End: t0 + 50_000_000},
		},
	}
}

// requestBatch is the linker's request spans: one llm_request with its
// total, one request-step span with one step's share (not a request's).
func requestBatch() *span.Batch {
	return &span.Batch{
		Resource: &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm")}},
		Spans: []span.Span{
			{TraceID: tid(9), SpanID: sid(9), Name: "llm_request", Start: t0, End: t0 + 1e9, Attrs: []span.Attr{
				span.String("gen_ai.request.id", "req-1"), span.Int("vllm.request.gpu_attributed_ns", 7_000_000),
			}},
			{TraceID: tid(9), SpanID: sid(10), Parent: sid(9), Name: "vllm.request.step", Start: t0, End: t0 + 4_000_000, Attrs: []span.Attr{
				span.Int("vllm.request.gpu_attributed_ns", 1_000_000),
			}},
		},
	}
}

func newRecorder(t testing.TB) (*Recorder, *sdkmetric.ManualReader) {
	t.Helper()
	rd := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(rd))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	r, err := New(mp, "test")
	if err != nil {
		t.Fatal(err)
	}
	return r, rd
}

func collect(t *testing.T, rd *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := rd.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

func key(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, fmt.Sprintf("%s=%s", kv.Key, kv.Value.Emit()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// hist is one histogram point's figures and its exemplars' trace ids.
type hist struct {
	count   uint64
	sum     float64
	buckets map[int]uint64 // bucket index -> count, non-zero only
	traces  []string
}

func histograms(t *testing.T, m metricdata.Metrics) map[string]hist {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is a %T", m.Name, m.Data)
	}
	out := map[string]hist{}
	for _, dp := range h.DataPoints {
		v := hist{count: dp.Count, sum: dp.Sum, buckets: map[int]uint64{}}
		for i, n := range dp.BucketCounts {
			if n > 0 {
				v.buckets[i] = n
			}
		}
		for _, e := range dp.Exemplars {
			v.traces = append(v.traces, hex.EncodeToString(e.TraceID)+"/"+hex.EncodeToString(e.SpanID))
		}
		out[key(dp.Attributes)] = v
	}
	return out
}

func ex(tr span.TraceID, sp span.SpanID) string { return tr.String() + "/" + sp.String() }

func checkHist(t *testing.T, name string, got map[string]hist, want map[string]hist) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d points %v, want %d %v", name, len(got), got, len(want), want)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s{%s}: missing", name, k)
			continue
		}
		if g.count != w.count || g.sum != w.sum || fmt.Sprint(g.buckets) != fmt.Sprint(w.buckets) || fmt.Sprint(g.traces) != fmt.Sprint(w.traces) {
			t.Errorf("%s{%s}: got %+v, want %+v", name, k, g, w)
		}
	}
}

func TestRecordedFromHandBuiltBatches(t *testing.T) {
	r, rd := newRecorder(t)
	ctx := context.Background()
	f := r.NewFile()
	f.Add(stepBatch())
	if got := collect(t, rd); len(got) != 0 {
		t.Fatalf("recorded before Commit: %v", got)
	}
	f.Commit(ctx)
	r.RecordRequests(ctx, requestBatch())
	m := collect(t, rd)

	// Bucket indexes: DurationBuckets' upper bounds are inclusive, so
	// 4 ms is bucket 3 (2 ms, 5 ms], 20 ms bucket 5 (10 ms, 20 ms], 1 ms
	// bucket 1 (0.5 ms, 1 ms].
	checkHist(t, StepDuration, histograms(t, m[StepDuration]), map[string]hist{
		"bottleneck=launch_bound,rank=1,step_kind=decode": {1, 0.004, map[int]uint64{3: 1}, []string{ex(tid(1), sid(11))}},
		"bottleneck=gpu_compute,rank=1,step_kind=prefill": {1, 0.02, map[int]uint64{5: 1}, []string{ex(tid(2), sid(3))}},
		"bottleneck=unknown,rank=1,step_kind=unknown":     {1, 0.001, map[int]uint64{1: 1}, []string{ex(tid(3), sid(4))}},
	})
	// 3/4 = 0.75 is bucket 8 (0.7, 0.8]; 18/20 = 0.9 bucket 9 (0.8, 0.9].
	checkHist(t, StepGPUBusyRatio, histograms(t, m[StepGPUBusyRatio]), map[string]hist{
		"bottleneck=launch_bound,rank=1,step_kind=decode": {1, 0.75, map[int]uint64{8: 1}, []string{ex(tid(1), sid(11))}},
		"bottleneck=gpu_compute,rank=1,step_kind=prefill": {1, 0.9, map[int]uint64{9: 1}, []string{ex(tid(2), sid(3))}},
	})
	// 0.4 ms of 4 ms = 0.1, bucket 1 (0.05, 0.1].
	checkHist(t, StepHostWaitRatio, histograms(t, m[StepHostWaitRatio]), map[string]hist{
		"bottleneck=launch_bound,rank=1,step_kind=decode": {1, 0.1, map[int]uint64{1: 1}, []string{ex(tid(1), sid(11))}},
	})
	// 7 ms is bucket 4 (5 ms, 10 ms]; the request-step span's share is not a request.
	checkHist(t, RequestGPUAttributed, histograms(t, m[RequestGPUAttributed]), map[string]hist{
		"": {1, 0.007, map[int]uint64{4: 1}, []string{ex(tid(9), sid(9))}},
	})

	sum, ok := m[StepGPUTime].Data.(metricdata.Sum[float64])
	if !ok || !sum.IsMonotonic {
		t.Fatalf("%s is %T (monotonic %v), want a counter", StepGPUTime, m[StepGPUTime].Data, sum.IsMonotonic)
	}
	got := map[string]float64{}
	for _, dp := range sum.DataPoints {
		got[key(dp.Attributes)] = dp.Value
	}
	want := map[string]float64{
		"class=gemm,rank=1,step_kind=decode":           0.002,
		"class=attention,rank=1,step_kind=decode":      0.0005,
		"class=gemm,rank=1,step_kind=prefill":          0.015,
		"class=communication,rank=1,step_kind=prefill": 0.003,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\ngot  %v\nwant %v", StepGPUTime, got, want)
	}

	// A second file adds to the same series.
	f2 := r.NewFile()
	f2.Add(stepBatch())
	f2.Commit(ctx)
	m = collect(t, rd)
	d := histograms(t, m[StepDuration])["bottleneck=launch_bound,rank=1,step_kind=decode"]
	if d.count != 2 || d.sum != 0.008 {
		t.Errorf("after two files: decode count %d sum %v, want 2 and 0.008", d.count, d.sum)
	}
}

func TestFileNotCommittedRecordsNothing(t *testing.T) {
	r, rd := newRecorder(t)
	f := r.NewFile()
	f.Add(stepBatch())
	// The file failed: it is dropped without Commit.
	if got := collect(t, rd); len(got) != 0 {
		t.Fatalf("an uncommitted file recorded %d metrics", len(got))
	}
	var none *File
	none.Add(stepBatch())
	none.Commit(context.Background())
}

func TestBatchWithoutRankHasNoRankLabel(t *testing.T) {
	r, rd := newRecorder(t)
	b := stepBatch()
	b.Resource = nil
	f := r.NewFile()
	f.Add(b)
	f.Commit(context.Background())
	for k := range histograms(t, collect(t, rd)[StepDuration]) {
		if strings.Contains(k, "rank=") {
			t.Errorf("point %q has a rank label without vllm.rank on the resource", k)
		}
	}
}
