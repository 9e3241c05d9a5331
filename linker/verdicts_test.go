package linker

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

const fixtureTraceName = "dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz"

// stepFigure is what the converter wrote on one step root.
type stepFigure struct {
	index      int64
	start      int64
	busy       int64
	bottleneck string
	ctxTokens  int64
}

// TestRequestVerdictsAgainstTruth converts the H100 fixture with the
// linker, once with vLLM's llm_request spans (the request-step spans go
// under them) and once with the JSON log (the bridge writes the
// llm_request roots), and checks every request verdict against an oracle
// built from truth.json and the step roots' own figures: a request's
// tokens in a step are its prompt in its first step (truth's steps[0]),
// else 1; its share is busy·tokens/Σtokens; its steps by kind are truth's
// kinds of its profiled steps; its slowest step is the one truth says took
// longest.
func TestRequestVerdictsAgainstTruth(t *testing.T) {
	truth := loadTruth(t)
	prompt := map[string]int64{}
	first := map[string]int{}
	for _, r := range truth.Requests {
		prompt[r.ID] = r.PromptTokens
		if len(r.Steps) > 0 {
			first[r.ID] = r.Steps[0]
		}
	}

	for _, src := range []struct {
		name string
		load loader
	}{
		// vLLM writes no llm_request span for the 4 requests still running
		// at the end: the text log completes the picture (100% of pairs).
		{"llm_request spans", func(t testing.TB, tl *Timeline, f func(vllmlog.Record) bool) {
			loadOTLP(t, tl, f)
			loadText(t, tl, f)
		}},
		{"json log", loadJSON},
	} {
		t.Run(src.name, func(t *testing.T) {
			tl := NewTimeline(TimelineOptions{})
			src.load(t, tl, nil)
			var reqSpans []span.Span
			l := New(tl, func(b *span.Batch) error { reqSpans = append(reqSpans, b.Spans...); return nil }, Options{})
			var steps []stepFigure
			f, err := os.Open(fixturePath(fixtureTraceName))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			opts := converter.DefaultOptions()
			opts.Linker = l
			_, err = converter.Convert(context.Background(), f, opts, func(b *span.Batch) error {
				for _, s := range b.Spans {
					idx, ok := span.Lookup(s.Attrs, "vllm.step.index")
					if !ok || !s.Parent.IsZero() {
						continue
					}
					busy, _ := span.Lookup(s.Attrs, "vllm.step.gpu_busy_ns")
					bn, _ := span.Lookup(s.Attrs, "vllm.step.bottleneck")
					ctx, _ := span.Lookup(s.Attrs, "vllm.step.context_tokens")
					steps = append(steps, stepFigure{idx.Num, s.Start, busy.Num, bn.Str, ctx.Num})
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Flush(true); err != nil {
				t.Fatal(err)
			}
			if len(steps) != 30 {
				t.Fatalf("%d steps, want 30", len(steps))
			}

			// The oracle.
			type expect struct {
				total   int64
				kinds   map[string]int64
				slowest int64 // step index
				slowDur int64
				second  int64 // runner-up duration (a near tie accepts either)
				secIdx  int64
			}
			want := map[string]*expect{}
			share := map[[2]int64]int64{} // (step index, request ordinal) → share
			reqOrd := map[string]int64{}
			for _, st := range steps {
				var ts *struct {
					Step     int      `json:"step"`
					Kind     string   `json:"kind"`
					Start    int64    `json:"start_ns"`
					End      int64    `json:"end_ns"`
					Requests []string `json:"requests"`
				}
				for k := range truth.Steps {
					if truth.Steps[k].Start <= st.start && st.start < truth.Steps[k].End {
						ts = &truth.Steps[k]
					}
				}
				if ts == nil {
					t.Fatalf("step %d not in truth", st.index)
				}
				tok := make([]int64, len(ts.Requests))
				var sum, ctx int64
				for k, id := range ts.Requests {
					tok[k] = 1
					if first[id] == ts.Step {
						tok[k] = prompt[id]
						ctx += prompt[id]
					}
					sum += tok[k]
				}
				if ctx != st.ctxTokens {
					t.Fatalf("step %d: truth's prompts add up to %d, the annotation says %d", st.index, ctx, st.ctxTokens)
				}
				dur := ts.End - ts.Start
				for k, id := range ts.Requests {
					if _, ok := reqOrd[id]; !ok {
						reqOrd[id] = int64(len(reqOrd))
					}
					sh := st.busy * tok[k] / sum
					share[[2]int64{st.index, reqOrd[id]}] = sh
					e := want[id]
					if e == nil {
						e = &expect{kinds: map[string]int64{}, slowest: -1}
						want[id] = e
					}
					e.total += sh
					e.kinds[ts.Kind]++
					switch {
					case dur > e.slowDur:
						e.second, e.secIdx = e.slowDur, e.slowest
						e.slowest, e.slowDur = st.index, dur
					case dur > e.second:
						e.second, e.secIdx = dur, st.index
					}
				}
			}
			bottleneck := map[int64]string{}
			for _, st := range steps {
				bottleneck[st.index] = st.bottleneck
			}

			checkRequest := func(where string, attrs []span.Attr, id string, e *expect) {
				total := KeyGPUAttributed
				if where == "request-step span" {
					total = KeyGPUAttributedTotal
				}
				if v, _ := span.Lookup(attrs, total); abs(v.Num-e.total) > 16*30 { // rounding: < 16 ns a step
					t.Errorf("%s of %s: %s = %d, truth %d", where, id, total, v.Num, e.total)
				}
				for k, c := range e.kinds {
					if v, _ := span.Lookup(attrs, KeyStepsPrefix+k); v.Num != c {
						t.Errorf("%s of %s: %s%s = %d, truth %d", where, id, KeyStepsPrefix, k, v.Num, c)
					}
				}
				v, _ := span.Lookup(attrs, KeySlowestIndex)
				okIdx := v.Num == e.slowest || (e.slowDur-e.second < 100_000 && v.Num == e.secIdx)
				if !okIdx {
					t.Errorf("%s of %s: slowest step %d, truth %d (%d ns, runner-up %d at %d ns)", where, id, v.Num, e.slowest, e.slowDur, e.secIdx, e.second)
				}
				if bn, _ := span.Lookup(attrs, KeySlowestBottleneck); bn.Str == "" || bn.Str != bottleneck[v.Num] {
					t.Errorf("%s of %s: slowest step's bottleneck %q, step root says %q", where, id, bn.Str, bottleneck[v.Num])
				}
			}
			roots, stepSpans := 0, 0
			perStep := map[int64]int64{}
			for _, sp := range reqSpans {
				idv, _ := span.Lookup(sp.Attrs, "gen_ai.request.id")
				e := want[idv.Str]
				if e == nil {
					t.Errorf("%s %s: not in the profiled steps' truth", sp.Name, idv.Str)
					continue
				}
				switch sp.Name {
				case "llm_request":
					roots++
					checkRequest("llm_request", sp.Attrs, idv.Str, e)
				case RequestStepSpanName:
					stepSpans++
					checkRequest("request-step span", sp.Attrs, idv.Str, e)
					si, _ := span.Lookup(sp.Attrs, "vllm.step.index")
					got, _ := span.Lookup(sp.Attrs, KeyGPUAttributed)
					if w := share[[2]int64{si.Num, reqOrd[idv.Str]}]; abs(got.Num-w) > 16 {
						t.Errorf("step %d, %s: attributed %d, truth %d", si.Num, idv.Str, got.Num, w)
					}
					perStep[si.Num] += got.Num
					if bn, _ := span.Lookup(sp.Attrs, "vllm.step.bottleneck"); bn.Str != bottleneck[si.Num] {
						t.Errorf("step %d: request-step span says %q, the root %q", si.Num, bn.Str, bottleneck[si.Num])
					}
				}
			}
			for _, st := range steps {
				if perStep[st.index] != st.busy {
					t.Errorf("step %d: shares add up to %d, its GPU busy time is %d", st.index, perStep[st.index], st.busy)
				}
			}
			wantRoots := len(want)
			if src.name == "llm_request spans" { // roots only for the requests without vLLM's span
				for _, s := range fixtureLLMRequests(t) {
					if id, _ := span.Lookup(s.Attrs, "gen_ai.request.id"); want[id.Str] != nil {
						wantRoots--
					}
				}
			}
			if roots != wantRoots || stepSpans != len(share) {
				t.Errorf("%d roots (%d requests), %d request-step spans", roots, len(want), stepSpans)
			}
		})
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestStepTokens covers the split of a step's tokens among its requests
// where the annotation and the logs say less than the H100 fixture does.
func TestStepTokens(t *testing.T) {
	tl := NewTimeline(TimelineOptions{})
	for id, n := range map[string]int{"p30": 30, "p50": 50} {
		tl.AddLogRecord("log", SourceJSONLog, vllmlog.Record{Kind: vllmlog.KindReceived, Time: 1e18, Resolution: 1e3,
			RequestIDs: []string{id}, PromptTokens: n, MaxTokens: 4, N: 1, OutputTokens: vllmlog.Unknown})
	}
	l := New(tl, func(*span.Batch) error { return nil }, Options{})
	pre := func(id string) assignment { return assignment{id: id, phase: PhasePrefill} }
	dec := func(id string) assignment { return assignment{id: id, phase: PhaseDecode} }
	ann := func(ctxReq, ctxTok, genReq, genTok int) enginestep.Annotation {
		return enginestep.Annotation{Kind: enginestep.KindMixed, ContextRequests: ctxReq, ContextTokens: ctxTok,
			GenerationRequests: genReq, GenerationTokens: genTok}
	}
	for _, c := range []struct {
		name string
		a    enginestep.Annotation
		as   []assignment
		want []int64
	}{
		{"one prefill takes the context tokens (a chunk)", ann(1, 16, 1, 1), []assignment{pre("p50"), dec("d")}, []int64{16, 1}},
		{"known prompts that add up", ann(2, 80, 0, 0), []assignment{pre("p30"), pre("p50")}, []int64{30, 50}},
		{"an unknown prompt gets what is left", ann(2, 70, 0, 0), []assignment{pre("p30"), pre("x")}, []int64{30, 40}},
		{"two unknown share what is left", ann(3, 41, 0, 0), []assignment{pre("x"), pre("p30"), pre("y")}, []int64{6, 30, 5}},
		{"chunked prefill: prompts exceed the context tokens", ann(2, 20, 0, 0), []assignment{pre("p30"), pre("p50")}, []int64{10, 10}},
		{"no context counts: the prompts, 1 where unknown", ann(enginestep.Unknown, enginestep.Unknown, enginestep.Unknown, enginestep.Unknown),
			[]assignment{pre("p30"), pre("x"), dec("d")}, []int64{30, 1, 1}},
		{"speculative decode: generation tokens per request", ann(0, 0, 2, 6), []assignment{dec("a"), dec("b")}, []int64{3, 3}},
	} {
		s := &stepRec{Step: enginestep.Step{Annotation: c.a, GPUBusyNs: 1000}, assigned: c.as}
		if got := l.stepTokens(s); !slices.Equal(got, c.want) {
			t.Errorf("%s: tokens %v, want %v", c.name, got, c.want)
		}
		var sum int64
		for _, v := range l.stepShares(s) {
			sum += v
		}
		if sum != 1000 {
			t.Errorf("%s: shares add up to %d, want the step's 1000 ns", c.name, sum)
		}
	}
}
