package linker

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func noIterations(r vllmlog.Record) bool { return r.Kind != vllmlog.KindIteration }

// TestScoreAgainstTruth links the fixture's profiled steps with each source
// alone and scores the (step, request) pairs against truth.json.
func TestScoreAgainstTruth(t *testing.T) {
	truth := loadTruth(t)
	steps := map[*span.Resource][]enginestep.Step{}
	var order []*span.Resource
	for _, name := range fixtureTraces {
		ss := loadSteps(t, name)
		steps[ss[0].Resource] = ss
		order = append(order, ss[0].Resource)
	}
	tests := []struct {
		name         string
		load         loader
		filter       func(vllmlog.Record) bool
		minPrecision float64
		minRecall    float64
	}{
		{"otlp", loadOTLP, nil, 1, 1},
		{"otlp without gen_ai.latency attributes", loadOTLPNoLatency, nil, 0.99, 0.99},
		{"json", loadJSON, nil, 0.99, 0.99},
		{"otlp + text log together", func(t testing.TB, tl *Timeline, f func(vllmlog.Record) bool) {
			loadText(t, tl, f)
			loadOTLP(t, tl, f)
		}, nil, 1, 1},
		{"otlp, then json log", func(t testing.TB, tl *Timeline, f func(vllmlog.Record) bool) {
			loadOTLP(t, tl, f)
			loadJSON(t, tl, f)
		}, nil, 1, 1},
		{"text", loadText, nil, 0.95, 0.95},
		{"json without Iteration lines", loadJSON, noIterations, 0.99, 0.99},
		{"text without Iteration lines", loadText, noIterations, 0.95, 0.95},
		{"text without Iteration or /start_profile lines", loadText, func(r vllmlog.Record) bool {
			return r.Kind != vllmlog.KindIteration && r.Kind != vllmlog.KindProfileStart
		}, 0.9, 0.9},
		{"text logged in UTC+2", loadTextShifted, nil, 0.95, 0.95},
		{"text with a second engine's Iteration lines", loadTextTwoEngines, nil, 0.95, 0.95},
		{"text with Iteration lines only from step 60", loadText, iterationsFrom(60), 0.95, 0.95},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := NewTimeline(TimelineOptions{})
			tc.load(t, tl, tc.filter)
			l := New(tl, func(*span.Batch) error { return nil }, Options{})
			var live []Pair
			for _, res := range order {
				for _, s := range steps[res] {
					lk := l.LinkStep(s)
					for _, id := range lk.RequestIDs {
						live = append(live, Pair{RequestID: id, StepIndex: s.Index, Resource: res})
					}
				}
			}
			known := func(id string) bool { _, ok := tl.Request(id); return ok }
			final := scorePairs(t, truth, steps, l.Pairs(), known)
			now := scorePairs(t, truth, steps, live, known)
			st := l.Stats()
			t.Logf("%s: precision %.4f recall %.4f (of requests the source knows: %.4f) [%d correct, %d predicted, %d true]; at LinkStep time: precision %.4f recall %.4f; stats %+v",
				tc.name, final.precision(), final.recall(), final.recallKnown(), final.tp, final.predicted, final.truth, now.precision(), now.recall(), st)
			if final.precision() < tc.minPrecision || final.recallKnown() < tc.minRecall {
				t.Errorf("precision %.4f recall %.4f, want ≥ %.2f / %.2f", final.precision(), final.recallKnown(), tc.minPrecision, tc.minRecall)
			}
		})
	}
}

var clockRE = regexp.MustCompile(`\d\d-\d\d \d\d:\d\d:\d\d`)

// loadTextShifted rewrites the fixture's text log as a host in UTC+2 would
// have written it and reads it with that zone.
func loadTextShifted(t testing.TB, tl *Timeline, filter func(vllmlog.Record) bool) {
	zone := time.FixedZone("UTC+2", 2*3600)
	b, err := os.ReadFile(fixturePath("vllm.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(string(b), "\n") {
		out.WriteString(clockRE.ReplaceAllStringFunc(line, func(c string) string {
			ut, err := time.ParseInLocation("2006-01-02 15:04:05", "2026-"+c, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			return ut.In(zone).Format("01-02 15:04:05")
		}))
	}
	if _, err := Load(strings.NewReader(out.String()), "vllm.log", LoadOptions{Text: vllmlog.TextOptions{Location: zone, Year: 2026}}, tl); err != nil {
		t.Fatal(err)
	}
}

// loadTextTwoEngines interleaves a second engine's Iteration lines (data
// parallelism: EngineCore_DP1 counts its own iterations) with the
// fixture's; its counts look like the real engine's decode steps.
func loadTextTwoEngines(t testing.TB, tl *Timeline, _ func(vllmlog.Record) bool) {
	b, err := os.ReadFile(fixturePath("vllm.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	n := 0
	for _, line := range strings.SplitAfter(string(b), "\n") {
		out.WriteString(line)
		if i := strings.Index(line, "Iteration("); i > 0 {
			head := strings.Replace(line[:i], "EngineCore_DP0 pid=211", "EngineCore_DP1 pid=212", 1)
			fmt.Fprintf(&out, "%sIteration(%d): 0 context requests, 0 context tokens, 16 generation requests, 16 generation tokens, iteration elapsed time: 6.%02d ms\n", head, n, n%100)
			n++
		}
	}
	if _, err := Load(strings.NewReader(out.String()), "vllm.log", LoadOptions{Text: vllmlog.TextOptions{Location: time.UTC, Year: 2026}}, tl); err != nil {
		t.Fatal(err)
	}
}

// iterationsFrom drops Iteration lines before index i (iteration details
// switched on, or the log rotated, in the middle of a profile).
func iterationsFrom(i int) func(vllmlog.Record) bool {
	return func(r vllmlog.Record) bool { return r.Kind != vllmlog.KindIteration || r.Iteration.Index >= i }
}

// loadOTLPNoLatency feeds the fixture's spans without their
// gen_ai.latency.* attributes: only start (arrival) and end are left.
func loadOTLPNoLatency(t testing.TB, tl *Timeline, _ func(vllmlog.Record) bool) {
	for _, s := range fixtureLLMRequests(t) {
		var attrs []span.Attr
		for _, a := range s.Attrs {
			if !strings.HasPrefix(a.Key, "gen_ai.latency.") {
				attrs = append(attrs, a)
			}
		}
		if err := tl.AddLLMRequestSpan(s.TraceID, s.SpanID, s.ParentSpanID, s.Start, s.End, attrs); err != nil {
			t.Fatal(err)
		}
	}
}
