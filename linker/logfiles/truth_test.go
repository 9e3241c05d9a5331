package logfiles

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// The H100 fixture (testdata/h100 at the repository root) and its text log
// rendered into the kubelet's CRI format with render_logs.py's own times
// (testdata/make_cri.py).
var (
	h100Trace = filepath.Join("..", "..", "testdata", "h100", "dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz")
	h100Truth = filepath.Join("..", "..", "testdata", "h100", "truth.json")
	h100Text  = filepath.Join("..", "..", "testdata", "h100", "vllm.log")
	h100CRI   = filepath.Join("testdata", "h100-vllm.cri.log")
)

type truthDoc struct {
	Requests []struct {
		ID      string `json:"id"`
		Arrival int64  `json:"arrival_ns"`
		Finish  int64  `json:"finish_ns"`
	} `json:"requests"`
	Steps []struct {
		Start    int64    `json:"start_ns"`
		End      int64    `json:"end_ns"`
		Requests []string `json:"requests"`
	} `json:"steps"`
}

// stepRecorder keeps the steps the converter finds (and links none).
type stepRecorder struct {
	mu    sync.Mutex
	steps []enginestep.Step
}

func (r *stepRecorder) LinkStep(s enginestep.Step) enginestep.Link {
	r.mu.Lock()
	r.steps = append(r.steps, s)
	r.mu.Unlock()
	return enginestep.Link{}
}

// fixtureSteps converts the fixture's trace once and returns its steps.
var fixtureSteps = sync.OnceValues(func() ([]enginestep.Step, error) {
	f, err := os.Open(h100Trace)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	rec := &stepRecorder{}
	opts := converter.DefaultOptions()
	opts.Linker = rec
	if _, err := converter.Convert(context.Background(), zr, opts, func(*span.Batch) error { return nil }); err != nil {
		return nil, err
	}
	return rec.steps, nil
})

// score links the fixture's profiled steps with what tl knows and scores
// the (step, request) pairs against truth.json.
func score(t *testing.T, tl *linker.Timeline, truth truthDoc) (precision, recall float64) {
	t.Helper()
	steps, err := fixtureSteps()
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 30 {
		t.Fatalf("%d steps, want the fixture's 30", len(steps))
	}
	l := linker.New(tl, func(*span.Batch) error { return nil }, linker.Options{})
	starts := map[int]int64{}
	for _, s := range steps {
		l.LinkStep(s)
		starts[s.Index] = s.Start
	}
	got := map[int]map[string]bool{}
	for _, p := range l.Pairs() {
		if got[p.StepIndex] == nil {
			got[p.StepIndex] = map[string]bool{}
		}
		got[p.StepIndex][p.RequestID] = true
	}
	tp, predicted, want := 0, 0, 0
	for idx, start := range starts {
		found := false
		for _, ts := range truth.Steps {
			if ts.Start <= start && start < ts.End {
				found = true
				want += len(ts.Requests)
				for _, id := range ts.Requests {
					if got[idx][id] {
						tp++
					}
				}
			}
		}
		if !found {
			t.Fatalf("step %d at %d is not in truth.json", idx, start)
		}
		predicted += len(got[idx])
	}
	return float64(tp) / float64(max(predicted, 1)), float64(tp) / float64(max(want, 1))
}

// TestCRITextLogAgainstTruth: vLLM's one-second text log read through the
// kubelet's CRI wrapper gets the runtime's nanosecond times: every
// request's arrival and finish line lands on render_logs.py's time, and the
// steps link as well as with the JSON log, better than the bare text log.
func TestCRITextLogAgainstTruth(t *testing.T) {
	b, err := os.ReadFile(h100Truth)
	if err != nil {
		t.Fatal(err)
	}
	var truth truthDoc
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	cri := readOnce(t, testConfig(h100CRI))
	if fs := cri.set.Files(); len(fs) != 1 || fs[0].Container != "cri" || fs[0].Format != "text" || fs[0].Malformed != 0 || fs[0].Warning != "" {
		t.Fatalf("files %+v", fs)
	}
	checked := 0
	for _, r := range truth.Requests {
		q, ok := cri.tl.Request(r.ID)
		if !ok {
			t.Errorf("%s not read", r.ID)
			continue
		}
		// render_logs.py writes Received at the arrival; the CRI time is
		// that time, and its resolution is what its digits say.
		if q.Arrival != r.Arrival || q.ArrivalRes > 1000 {
			t.Errorf("%s: arrival %d (res %d ns), want truth's %d", r.ID, q.Arrival, q.ArrivalRes, r.Arrival)
		}
		// Generated response comes 0.1-0.6 ms after the last token.
		if r.Finish != 0 && (q.Finish < r.Finish || q.Finish > r.Finish+600_000 || q.FinishRes > 1000) {
			t.Errorf("%s: finish %d (res %d ns), want within 0.6 ms after truth's %d", r.ID, q.Finish, q.FinishRes, r.Finish)
		}
		checked++
	}
	if checked != len(truth.Requests) || checked == 0 {
		t.Fatalf("checked %d of %d requests", checked, len(truth.Requests))
	}
	p, r := score(t, cri.tl, truth)
	text := readOnce(t, testConfig(h100Text))
	tp, tr := score(t, text.tl, truth)
	t.Logf("CRI-wrapped text log: precision %.4f recall %.4f; the same text log bare: precision %.4f recall %.4f", p, r, tp, tr)
	if p < 0.99 || r < 0.99 {
		t.Errorf("CRI-wrapped text log links at precision %.4f recall %.4f, want ≥ 0.99 (the JSON log's bar)", p, r)
	}
	// Without the Iteration and /start_profile lines that make the bare
	// text log exact, only the times are left: the CRI times still link.
	dir := t.TempDir()
	cri = readOnce(t, testConfig(withoutLines(t, h100CRI, filepath.Join(dir, "0.log"))))
	text = readOnce(t, testConfig(withoutLines(t, h100Text, filepath.Join(dir, "vllm.log"))))
	p, r = score(t, cri.tl, truth)
	tp, tr = score(t, text.tl, truth)
	t.Logf("without Iteration and /start_profile lines: CRI-wrapped precision %.4f recall %.4f; bare text precision %.4f recall %.4f", p, r, tp, tr)
	if p < 0.99 || r < 0.99 {
		t.Errorf("CRI-wrapped text log without Iteration lines links at precision %.4f recall %.4f, want ≥ 0.99", p, r)
	}
}

// withoutLines copies a log without its Iteration(i) and /start_profile
// lines.
func withoutLines(t *testing.T, src, dst string) string {
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if !strings.Contains(l, "Iteration(") && !strings.Contains(l, "/start_profile") {
			out = append(out, l)
		}
	}
	writeFile(t, dst, strings.Join(out, ""))
	return dst
}
