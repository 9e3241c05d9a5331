package capture

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestParseScrape parses testdata/vllm-metrics.prom, a /metrics answer
// as vLLM's prometheus_client writes it: a gauge, one histogram for two
// engines (one of them without observations) and its _created gauge.
func TestParseScrape(t *testing.T) {
	s, err := parseScrape(bytes.NewReader(testkit.ReadFile(t, filepath.Join("testdata", "vllm-metrics.prom"))))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 {
		t.Fatalf("families %v, want only the histogram", len(s))
	}
	series := s["vllm:time_to_first_token_seconds"]
	h, ok := series[signature(map[string]string{"engine": "0", "model_name": "m"})]
	if !ok || len(series) != 2 {
		t.Fatalf("series %v", series)
	}
	want := []bucket{{0.1, 10}, {0.5, 60}, {1, 90}, {math.Inf(1), 100}}
	if len(h.Buckets) != len(want) || h.Count != 100 || h.Sum != 42.5 {
		t.Fatalf("histogram %+v", h)
	}
	for i := range want {
		if h.Buckets[i] != want[i] {
			t.Fatalf("bucket %d = %+v, want %+v", i, h.Buckets[i], want[i])
		}
	}
	if _, err := parseScrape(strings.NewReader("vllm:x{le=\"0.1\" 3\n")); err == nil {
		t.Fatal("garbage parsed")
	}
}

// Quantiles computed by hand for engine 0's histogram in
// testdata/vllm-metrics.prom (100 observations:
// 10 ≤ 0.1, 50 in (0.1, 0.5], 30 in (0.5, 1], 10 above 1).
func TestQuantile(t *testing.T) {
	h := hist{Buckets: []bucket{{0.1, 10}, {0.5, 60}, {1, 90}, {math.Inf(1), 100}}}
	for _, tc := range []struct{ q, want float64 }{
		{0.05, 0.05},     // rank 5 in [0, 0.1]: 0 + 0.1×5/10
		{0.5, 0.42},      // rank 50: 0.1 + 0.4×40/50
		{0.75, 0.75},     // rank 75: 0.5 + 0.5×15/30
		{0.9, 1.0},       // rank 90: top of (0.5, 1]
		{0.99, 1.0},      // rank 99 in +Inf: the highest finite bound
		{0.1, 0.1},       // rank 10 exactly at the first bound
		{0.6, 0.5},       // rank 60 exactly at 0.5
		{0.11, 0.108000}, // rank 11: 0.1 + 0.4×1/50
	} {
		if got := quantile(tc.q, h); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("q%v = %v, want %v", tc.q, got, tc.want)
		}
	}
	if !math.IsNaN(quantile(0.5, hist{Buckets: []bucket{{1, 0}, {math.Inf(1), 0}}})) {
		t.Error("empty histogram should give NaN")
	}
}

func TestDeltaAndReset(t *testing.T) {
	prev := hist{Buckets: []bucket{{1, 5}, {math.Inf(1), 8}}, Count: 8}
	cur := hist{Buckets: []bucket{{1, 7}, {math.Inf(1), 12}}, Count: 12}
	d, reset := delta(prev, cur)
	if reset || d.Count != 4 || d.Buckets[0].Count != 2 || d.Buckets[1].Count != 4 {
		t.Fatalf("delta %+v reset %v", d, reset)
	}
	restarted := hist{Buckets: []bucket{{1, 1}, {math.Inf(1), 3}}, Count: 3}
	if d, reset := delta(cur, restarted); !reset || d.Count != 3 {
		t.Fatalf("after a restart: %+v %v", d, reset)
	}
}

// The window slides: a spike older than the window no longer counts.
func TestTriggerWindowSlides(t *testing.T) {
	tr := newTriggerState(Trigger{Name: "x", Metric: "m", Quantile: 0.9, Above: 1, Window: time.Minute, MinCount: 10})
	now := time.Unix(1000, 0)
	var total [3]float64 // cumulative: ≤0.5, ≤2, all
	scrape := func(fast, slow float64) observation {
		total[0] += fast
		total[1] += fast + slow
		total[2] += fast + slow
		now = now.Add(15 * time.Second)
		s := Scrape{"m": {"": hist{Buckets: []bucket{{0.5, total[0]}, {2, total[1]}, {math.Inf(1), total[2]}}, Count: total[2]}}}
		return tr.observe(now, s)
	}
	if o := scrape(0, 0); o.Fire || !math.IsNaN(o.Value) {
		t.Fatalf("baseline: %+v", o)
	}
	if o := scrape(5, 0); o.Fire || o.Count != 5 {
		t.Fatalf("below min_count: %+v", o)
	}
	if o := scrape(10, 10); !o.Fire || o.Count != 25 {
		t.Fatalf("spike: %+v", o)
	}
	for i := 0; i < 3; i++ {
		scrape(20, 0)
	}
	if o := scrape(20, 0); o.Fire || o.Count != 80 {
		t.Fatalf("spike should have left the 1m window: %+v", o)
	}
}
