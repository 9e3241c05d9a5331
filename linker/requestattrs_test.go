package linker

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// truthRequest is what truth.json says of one request: the answer key for
// the attributes of the llm_request spans the linker writes from logs.
type truthRequest struct {
	ID           string `json:"id"`
	Arrival      int64  `json:"arrival_ns"`
	Scheduled    int64  `json:"scheduled_ns"`
	FirstToken   int64  `json:"first_token_ns"`
	Finish       *int64 `json:"finish_ns"`
	PromptTokens int    `json:"prompt_tokens"`
	OutputTokens int    `json:"output_tokens"`
	MaxTokens    int    `json:"max_tokens"`
}

// TestLogRequestAttrsAgainstTruth links the fixture's profiled steps with
// the JSON log and checks every llm_request root the linker writes against
// truth.json: output token counts, finish reasons, and each gen_ai.latency
// attribute that is written, within the log's and the trace's precision.
// Request-step spans must be named vllm.request.step with the step kind as
// an attribute.
func TestLogRequestAttrsAgainstTruth(t *testing.T) {
	b, err := os.ReadFile(fixturePath("truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Requests []truthRequest `json:"requests"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	truth := map[string]truthRequest{}
	for _, r := range doc.Requests {
		truth[r.ID] = r
	}

	tl := NewTimeline(TimelineOptions{})
	loadJSON(t, tl, nil)
	var spans []span.Span
	l := New(tl, func(b *span.Batch) error { spans = append(spans, b.Spans...); return nil }, Options{})
	for _, name := range fixtureTraces {
		for _, s := range loadSteps(t, name) {
			l.LinkStep(s)
		}
	}
	if err := l.Flush(true); err != nil {
		t.Fatal(err)
	}

	// The steps' times are the trace's (GPU host clock, step annotation
	// boundaries); truth's are the engine loop's wall clock around the
	// same steps. They agree to well under a millisecond.
	const tol = 1e-3 // seconds
	roots, steps := 0, 0
	counts := map[string]int{}
	for _, sp := range spans {
		switch sp.Name {
		case "llm_request":
		case RequestStepSpanName:
			steps++
			k, ok := span.Lookup(sp.Attrs, "vllm.step.kind")
			if !ok || k.Str == "" || k.Str == "unknown" {
				t.Errorf("request-step span without a step kind: %+v", sp.Attrs)
			}
			continue
		default:
			t.Errorf("unexpected span name %q", sp.Name)
			continue
		}
		roots++
		id, _ := span.Lookup(sp.Attrs, "gen_ai.request.id")
		tr, ok := truth[id.Str]
		if !ok {
			t.Errorf("llm_request for %q, not in truth.json", id.Str)
			continue
		}
		num := func(k string) (int64, bool) {
			a, ok := span.Lookup(sp.Attrs, k)
			return a.Num, ok
		}
		if tr.Finish == nil {
			if _, ok := num("gen_ai.usage.output_tokens"); ok {
				t.Errorf("%s: unfinished in truth, but output tokens written", tr.ID)
			}
		} else {
			// render_logs.py writes at most 12 output_token_ids per
			// Generated line (as vLLM's --max-log-len truncates them) and
			// always finish_reason "length": the counts are the log's.
			wantTokens := min(tr.OutputTokens, 12)
			for _, k := range []string{"gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"} {
				if n, ok := num(k); !ok || int(n) != wantTokens {
					t.Errorf("%s: %s = %d (written %v), the log has %d", tr.ID, k, n, ok, wantTokens)
				}
			}
			const want = "length"
			fr, ok := span.Lookup(sp.Attrs, "gen_ai.response.finish_reasons")
			if !ok || len(fr.Strs) != 1 || fr.Strs[0] != want {
				t.Errorf("%s: finish reasons %v (written %v), want [%s]", tr.ID, fr.Strs, ok, want)
			}
		}
		check := func(k string, want int64) {
			a, ok := span.Lookup(sp.Attrs, k)
			if !ok {
				return
			}
			counts[k]++
			if got := a.AsFloat(); math.Abs(got-float64(want)/1e9) > tol {
				t.Errorf("%s: %s = %.6f s, truth %.6f s", tr.ID, k, got, float64(want)/1e9)
			}
		}
		if tr.Finish != nil {
			check("gen_ai.latency.e2e", *tr.Finish-tr.Arrival)
			check("gen_ai.latency.time_in_model_decode", *tr.Finish-tr.FirstToken)
		}
		check("gen_ai.latency.time_in_queue", tr.Scheduled-tr.Arrival)
		check("gen_ai.latency.time_to_first_token", tr.FirstToken-tr.Arrival)
		check("gen_ai.latency.time_in_model_prefill", tr.FirstToken-tr.Scheduled)
	}
	t.Logf("%d llm_request roots, %d request-step spans; latencies written: %v", roots, steps, counts)
	if roots == 0 || steps == 0 {
		t.Fatal("nothing linked")
	}
	// Requests first scheduled inside a profile window get queue and
	// first-token times; the fixture has such requests in both windows.
	for _, k := range []string{"gen_ai.latency.e2e", "gen_ai.latency.time_in_queue", "gen_ai.latency.time_to_first_token"} {
		if counts[k] == 0 {
			t.Errorf("no request got %s", k)
		}
	}
}
