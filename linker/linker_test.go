package linker

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestExternalID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"chatcmpl-1027c4d1c386bbc4-c2ce6f44", "chatcmpl-1027c4d1c386bbc4"},
		{"cmpl-5e6f708192a3b4c5-0-1a2b3c4d", "cmpl-5e6f708192a3b4c5-0"},
		{"2_cmpl-5e6f708192a3b4c5-0-1a2b3c4d", "cmpl-5e6f708192a3b4c5-0"},
		{"chatcmpl-3f9a1c7e5b2d4a60", "chatcmpl-3f9a1c7e5b2d4a60"},
		{"cmpl-abc-0", "cmpl-abc-0"},
		{"0", "0"},
		{"12_", "12_"},
		{"x-ABCDEF12", "x-ABCDEF12"},
	}
	for _, tc := range tests {
		if got := ExternalID(tc.in); got != tc.want {
			t.Errorf("ExternalID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func loadFile(t testing.TB, tl *Timeline, name string, opts LoadOptions) LoadResult {
	t.Helper()
	f, err := os.Open(fixturePath(name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Load(f, name, opts, tl)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestLoadDetects(t *testing.T) {
	text := vllmlog.TextOptions{Year: 2026, Location: time.UTC}
	tests := []struct {
		file    string
		format  vllmlog.Format
		records int
		src     Source
	}{
		{"vllm.log", vllmlog.FormatText, 440, SourceTextLog},
		{"vllm.jsonl", vllmlog.FormatJSONLines, 440, SourceJSONLog},
		{"llm_request.otlp.json", vllmlog.FormatOTLPJSON, 56, SourceOTLP},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			tl := NewTimeline(TimelineOptions{})
			res := loadFile(t, tl, tc.file, LoadOptions{Text: text})
			if res.Format != tc.format || res.Records != tc.records || res.Malformed != 0 {
				t.Fatalf("%+v", res)
			}
			r, ok := tl.Request("chatcmpl-f1fd42a29755d4c1")
			if !ok || r.Source != tc.src || r.Arrival == 0 || r.Finish == 0 || r.MaxTokens != 11 {
				t.Fatalf("request %+v", r)
			}
			if tc.src != SourceOTLP && r.InternalID != "chatcmpl-f1fd42a29755d4c1-07d4bedc" {
				t.Fatalf("internal id %q", r.InternalID)
			}
			if tc.src == SourceOTLP && (r.Scheduled != 1795789264020077795 || !r.HasSpan()) {
				t.Fatalf("scheduled %d", r.Scheduled)
			}
			if w := tl.Watermark(tc.src); w < 1795789280000000000 {
				t.Fatalf("watermark %d", w)
			}
		})
	}
	if _, err := Load(strings.NewReader("hello\nworld\n"), "x", LoadOptions{}, NewTimeline(TimelineOptions{})); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("unknown format: %v", err)
	}
	res, err := Load(strings.NewReader("INFO 11-27 14:21:03 [a.py:1] Added request a.\nINFO 11-27 14:21:03 [a.py:1] Added request "+strings.Repeat("x", 100)+".\nINFO 11-27 14:21:03 [core.py:1] Iteration(z): x\n"),
		"x", LoadOptions{MaxLineBytes: 80, Text: text}, NewTimeline(TimelineOptions{}))
	if err != nil || res.Records != 1 || res.Malformed != 2 || res.FirstError == nil {
		t.Fatalf("%+v %v", res, err)
	}
}

// fixtureSteps returns the steps of both fixture traces, in order.
func fixtureSteps(t testing.TB) []enginestep.Step {
	var out []enginestep.Step
	for _, name := range fixtureTraces {
		out = append(out, loadSteps(t, name)...)
	}
	return out
}

func stepsByRes(steps []enginestep.Step) map[*span.Resource][]enginestep.Step {
	m := map[*span.Resource][]enginestep.Step{}
	for _, s := range steps {
		m[s.Resource] = append(m[s.Resource], s)
	}
	return m
}

// TestStepsBeforeRequests links every step before any request is known:
// the immediate answers are empty and counted, and once the log arrives
// Pairs and Flush get them right.
func TestStepsBeforeRequests(t *testing.T) {
	truth := loadTruth(t)
	steps := fixtureSteps(t)
	tl := NewTimeline(TimelineOptions{})
	var emitted []span.Span
	l := New(tl, func(b *span.Batch) error { emitted = append(emitted, b.Spans...); return nil }, Options{})
	for _, s := range steps {
		if lk := l.LinkStep(s); len(lk.RequestIDs) != 0 {
			t.Fatalf("step %d linked to %v with no requests known", s.Index, lk.RequestIDs)
		}
	}
	if st := l.Stats(); st.NoRequests != len(steps) || st.Pairs != 0 {
		t.Fatalf("stats %+v", st)
	}
	loadJSON(t, tl, nil)
	sc := scorePairs(t, truth, stepsByRes(steps), l.Pairs(), func(string) bool { return true })
	if sc.precision() != 1 || sc.recall() != 1 {
		t.Fatalf("precision %.4f recall %.4f", sc.precision(), sc.recall())
	}
	if err := l.Flush(true); err != nil {
		t.Fatal(err)
	}
	children := 0
	for _, s := range emitted {
		if s.Name != "llm_request" {
			children++
		}
	}
	if children != sc.tp {
		t.Fatalf("%d step spans emitted, want %d", children, sc.tp)
	}
}

// mkStep builds a synthetic step.
func mkStep(res *span.Resource, idx int, name string, start, end int64) enginestep.Step {
	a, ok := enginestep.ParseAnnotation(name)
	if !ok {
		panic(name)
	}
	ids := span.NewIDSource([]byte(fmt.Sprint(res)))
	return enginestep.Step{Index: idx, Name: name, Annotation: a, Start: start, End: end, Resource: res,
		TraceID: ids.TraceID(uint64(idx)), RootSpanID: ids.SpanID(uint64(idx))}
}

func jsonLine(t *testing.T, tl *Timeline, sec float64, msg string) {
	t.Helper()
	rec, err := vllmlog.ParseJSONLine([]byte(fmt.Sprintf(`{"created": %.6f, "message": %q}`, sec, msg)), vllmlog.JSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tl.AddLogRecord("test.jsonl", SourceJSONLog, rec)
}

const base = 1795789000.0

func ns(sec float64) int64 { return int64(sec * 1e9) }

// smallScenario: r1 arrives and runs steps 0..2, r2 arrives later and
// never reaches a profiled step, a step long after has no requests.
func smallScenario(t *testing.T, tl *Timeline) []enginestep.Step {
	jsonLine(t, tl, base+0.000, "Received request r1: params: SamplingParams(n=1, temperature=0.5, max_tokens=3), lora_request: None.")
	jsonLine(t, tl, base+0.001, "Added request r1-0123abcd.")
	jsonLine(t, tl, base+0.040, "Generated response r1: output: 'x', output_token_ids: [1], finish_reason: length")
	jsonLine(t, tl, base+5.000, "Received request r2: params: SamplingParams(n=1, max_tokens=3), lora_request: None.")
	jsonLine(t, tl, base+5.001, "Added request r2-0123abcd.")
	jsonLine(t, tl, base+5.040, "Generated response r2: output: 'x', output_token_ids: [1], finish_reason: length")
	res := &span.Resource{Attrs: []span.Attr{span.String("vllm.trace.file", "small")}}
	return []enginestep.Step{
		mkStep(res, 0, "execute_context_1(10)_generation_0(0)", ns(base+0.010), ns(base+0.020)),
		mkStep(res, 1, "execute_context_0(0)_generation_1(1)", ns(base+0.020), ns(base+0.030)),
		mkStep(res, 2, "execute_context_0(0)_generation_1(1)", ns(base+0.030), ns(base+0.0395)),
		mkStep(res, 3, "execute_context_0(0)_generation_1(1)", ns(base+2.000), ns(base+2.010)),
	}
}

func TestNoProfiledStepsAndNoRequests(t *testing.T) {
	for _, unlinked := range []bool{false, true} {
		t.Run(fmt.Sprintf("EmitUnlinkedRequests=%v", unlinked), func(t *testing.T) {
			tl := NewTimeline(TimelineOptions{})
			steps := smallScenario(t, tl)
			var got []span.Span
			l := New(tl, func(b *span.Batch) error { got = append(got, b.Spans...); return nil }, Options{EmitUnlinkedRequests: unlinked})
			for i, s := range steps {
				lk := l.LinkStep(s)
				want := []string{"r1"}
				if i == 3 {
					want = nil
				}
				if strings.Join(lk.RequestIDs, ",") != strings.Join(want, ",") {
					t.Fatalf("step %d: %v, want %v", i, lk.RequestIDs, want)
				}
			}
			st := l.Stats()
			if st.NoRequests != 1 || st.StepsFullyAssigned != 3 || st.Pairs != 3 {
				t.Fatalf("stats %+v", st)
			}
			if err := l.Flush(true); err != nil {
				t.Fatal(err)
			}
			byReq := map[string]int{}
			for _, s := range got {
				v, _ := span.Lookup(s.Attrs, "gen_ai.request.id")
				byReq[v.Str]++
			}
			if byReq["r1"] != 4 {
				t.Fatalf("r1: %d spans, want root + 3", byReq["r1"])
			}
			if want := map[bool]int{false: 0, true: 1}[unlinked]; byReq["r2"] != want {
				t.Fatalf("r2 (no profiled step): %d spans, want %d", byReq["r2"], want)
			}
		})
	}
}

// TestEmitGolden pins the spans written for the small scenario and checks
// that writing them again gives the same ids.
func TestEmitGolden(t *testing.T) {
	run := func() []span.Span {
		tl := NewTimeline(TimelineOptions{})
		steps := smallScenario(t, tl)
		var got []span.Span
		l := New(tl, func(b *span.Batch) error {
			if b.Resource == nil || b.Scope.Name == "" {
				t.Fatal("batch without resource or scope")
			}
			got = append(got, b.Spans...)
			return nil
		}, Options{})
		for _, s := range steps {
			l.LinkStep(s)
		}
		if err := l.Flush(true); err != nil {
			t.Fatal(err)
		}
		return got
	}
	a, b := run(), run()
	text := dumpSpans(a)
	if text != dumpSpans(b) {
		t.Fatal("re-emission changed the spans")
	}
	testkit.Golden(t, filepath.Join("testdata", "emit_small.golden"), []byte(text), *update)
	root := a[0]
	for _, s := range a[1:] {
		if s.TraceID != root.TraceID || s.Parent != root.SpanID || len(s.Links) != 1 {
			t.Fatalf("child %+v not under root %+v", s, root)
		}
	}
	if root.Name != "llm_request" || root.Kind != span.KindServer || root.Start != ns(base) {
		t.Fatalf("root %+v", root)
	}
}

func dumpSpans(spans []span.Span) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "%s trace=%s span=%s parent=%s kind=%d %d..%d status=%d\n", s.Name, s.TraceID, s.SpanID, s.Parent, s.Kind, s.Start, s.End, s.Status)
		for _, a := range s.Attrs {
			v := a.Value
			switch v.Type {
			case span.TypeString:
				fmt.Fprintf(&b, "  %s=%q\n", a.Key, v.Str)
			case span.TypeDouble:
				fmt.Fprintf(&b, "  %s=%g\n", a.Key, v.AsFloat())
			case span.TypeStringSlice:
				fmt.Fprintf(&b, "  %s=%q\n", a.Key, v.Strs)
			default:
				fmt.Fprintf(&b, "  %s=%d\n", a.Key, v.Num)
			}
		}
		for _, l := range s.Links {
			fmt.Fprintf(&b, "  link %s/%s\n", l.TraceID, l.SpanID)
		}
	}
	return b.String()
}

// TestOTLPParent checks that with vLLM's spans the step spans go into the
// caller's trace under llm_request, and no root of our own is written.
func TestOTLPParent(t *testing.T) {
	tl := NewTimeline(TimelineOptions{})
	loadOTLP(t, tl, nil)
	var got []span.Span
	l := New(tl, func(b *span.Batch) error { got = append(got, b.Spans...); return nil }, Options{})
	steps := loadSteps(t, fixtureTraces[0])
	for _, s := range steps {
		lk := l.LinkStep(s)
		for i, lnk := range lk.Links {
			r, _ := tl.Request(lk.RequestIDs[i])
			if lnk.TraceID != r.TraceID || lnk.SpanID != r.SpanID {
				t.Fatalf("link %d of step %d does not point at llm_request", i, s.Index)
			}
		}
	}
	if err := l.Flush(false); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("nothing emitted for finished requests")
	}
	// vLLM's spans as the OTLP file has them: every request-step span lies
	// inside its parent (Jaeger warns of clock skew otherwise: the parent
	// comes from another process).
	parents := map[span.SpanID][2]int64{}
	for _, p := range fixtureLLMRequests(t) {
		parents[p.SpanID] = [2]int64{p.Start, p.End}
	}
	cut := 0
	for _, s := range got {
		p, ok := parents[s.Parent]
		if !ok || s.Start < p[0] || s.End > p[1] {
			t.Errorf("%s of step %v: [%d, %d] not inside its llm_request %v", s.Name, attrOf(s, "vllm.step.index"), s.Start, s.End, p)
		}
		if v, ok := span.Lookup(s.Attrs, StepEndCutAttr); ok {
			cut++
			if v.Num <= 0 {
				t.Errorf("%s = %d", StepEndCutAttr, v.Num)
			}
		}
	}
	if cut == 0 {
		t.Error("no request-step span ends at its last token: the fixture has steps that outlast their requests")
	}
	for _, s := range got {
		if s.Name == "llm_request" {
			t.Fatal("wrote a root although vLLM's span is known")
		}
		v, _ := span.Lookup(s.Attrs, "gen_ai.request.id")
		r, _ := tl.Request(v.Str)
		if s.TraceID != r.TraceID || s.Parent != r.SpanID {
			t.Fatalf("span %s not under vLLM's llm_request", s.Name)
		}
		if ph, _ := span.Lookup(s.Attrs, "vllm.request.phase"); ph.Str != "prefill" && ph.Str != "decode" {
			t.Fatalf("phase %q", ph.Str)
		}
	}
	n := len(got)
	if err := l.Flush(false); err != nil || len(got) != n {
		t.Fatalf("second flush re-emitted: %d → %d (%v)", n, len(got), err)
	}
}

func TestFlushWaitsForFinishAndSpan(t *testing.T) {
	now := time.Unix(0, ns(base+1))
	tl := NewTimeline(TimelineOptions{})
	res := &span.Resource{}
	jsonLine(t, tl, base, "Added request r1-0123abcd.")
	var got []span.Span
	l := New(tl, func(b *span.Batch) error { got = append(got, b.Spans...); return nil },
		Options{ExpectLLMRequestSpans: true, SpanWait: 10 * time.Second, Now: func() time.Time { return now }})
	l.LinkStep(mkStep(res, 0, "execute_context_1(10)_generation_0(0)", ns(base+0.01), ns(base+0.02)))
	if err := l.Flush(false); err != nil || len(got) != 0 {
		t.Fatalf("emitted %d spans for a running request", len(got))
	}
	jsonLine(t, tl, base+0.05, "Generated response r1: output: 'x', output_token_ids: [1], finish_reason: stop")
	if err := l.Flush(false); err != nil || len(got) != 0 {
		t.Fatalf("emitted %d spans before the llm_request span could arrive", len(got))
	}
	now = now.Add(20 * time.Second)
	if err := l.Flush(false); err != nil || len(got) != 2 {
		t.Fatalf("after SpanWait: %d spans, want root + step", len(got))
	}
}

func TestEmitErrorRetried(t *testing.T) {
	tl := NewTimeline(TimelineOptions{})
	steps := smallScenario(t, tl)
	fail := true
	var got []span.Span
	l := New(tl, func(b *span.Batch) error {
		if fail {
			return errors.New("backend down")
		}
		got = append(got, b.Spans...)
		return nil
	}, Options{})
	for _, s := range steps {
		l.LinkStep(s)
	}
	if err := l.Flush(false); !errors.Is(err, ErrEmit) {
		t.Fatalf("err %v", err)
	}
	fail = false
	if err := l.Flush(false); err != nil || len(got) != 4 {
		t.Fatalf("retry: %d spans, %v", len(got), err)
	}
	// Two batches failed: the root (linker resource) and the steps (the
	// trace file's resource).
	if st := l.Stats(); st.EmitErrors != 2 || st.SpansEmitted != 3 || st.RootsEmitted != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMaxLinks(t *testing.T) {
	tl := NewTimeline(TimelineOptions{})
	for i := range 10 {
		jsonLine(t, tl, base+float64(i)*0.001, fmt.Sprintf("Added request r%d.", i))
	}
	l := New(tl, func(*span.Batch) error { return nil }, Options{MaxLinks: 4})
	lk := l.LinkStep(mkStep(&span.Resource{}, 0, "execute_context_10(100)_generation_0(0)", ns(base+1), ns(base+1.01)))
	if len(lk.RequestIDs) != 10 || len(lk.Links) != 4 || l.Stats().LinksTruncated != 6 {
		t.Fatalf("%d ids, %d links, stats %+v", len(lk.RequestIDs), len(lk.Links), l.Stats())
	}
}

func TestRetention(t *testing.T) {
	tl := NewTimeline(TimelineOptions{MaxRequests: 10, Retention: time.Minute})
	for i := range 30 {
		jsonLine(t, tl, base+float64(i), fmt.Sprintf("Added request r%d.", i))
	}
	tl.Prune()
	if n := tl.Len(); n != 10 {
		t.Fatalf("%d requests kept, want 10", n)
	}
	if _, ok := tl.Request("r29"); !ok {
		t.Fatal("newest request dropped")
	}
	jsonLine(t, tl, base+1000, "Added request late.")
	tl.Prune()
	if n := tl.Len(); n != 1 {
		t.Fatalf("%d requests after retention, want 1", n)
	}
	tl.Advance(SourceJSONLog, ns(base+2000))
	if w := tl.Watermark(SourceJSONLog); w != ns(base+2000) {
		t.Fatalf("watermark %d", w)
	}
}

// TestPrivacy feeds lines full of prompt text and token ids and checks
// that none of it is kept by the timeline or written in a span.
func TestPrivacy(t *testing.T) {
	const secret = "SECRETPROMPT"
	lines := []string{
		"(APIServer pid=1) INFO 11-27 14:21:03 [logger.py:39] Received request r1: prompt: '" + secret + " say hi', params: SamplingParams(n=1, max_tokens=2), prompt_token_ids: [31337, 31338], lora_request: None.",
		"(APIServer pid=1) INFO 11-27 14:21:03 [async_llm.py:415] Added request r1.",
		"(APIServer pid=1) INFO 11-27 14:21:04 [logger.py:92] Generated response r1: output: '" + secret + " output', output_token_ids: [31339], finish_reason: length",
	}
	tl := NewTimeline(TimelineOptions{})
	if _, err := Load(strings.NewReader(strings.Join(lines, "\n")+"\n"), "p.log", LoadOptions{Text: vllmlog.TextOptions{Year: 2026, Location: time.UTC}}, tl); err != nil {
		t.Fatal(err)
	}
	var got []span.Span
	l := New(tl, func(b *span.Batch) error { got = append(got, b.Spans...); return nil }, Options{})
	start := time.Date(2026, 11, 27, 14, 21, 3, 5e8, time.UTC).UnixNano()
	l.LinkStep(mkStep(&span.Resource{}, 0, "execute_context_1(2)_generation_0(0)", start, start+1e6))
	if err := l.Flush(true); err != nil {
		t.Fatal(err)
	}
	r, _ := tl.Request("r1")
	dump := fmt.Sprintf("%+v\n%s", r, dumpSpans(got))
	for _, s := range []string{secret, "31337", "31338", "31339", "say hi"} {
		if strings.Contains(dump, s) {
			t.Errorf("%q survived:\n%s", s, dump)
		}
	}
	if !strings.Contains(dump, "r1") || len(got) != 2 {
		t.Fatalf("expected the request's spans:\n%s", dump)
	}
}

// TestConcurrent adds records while linking and flushing (run with -race).
func TestConcurrent(t *testing.T) {
	tl := NewTimeline(TimelineOptions{})
	l := New(tl, func(*span.Batch) error { return nil }, Options{})
	steps := fixtureSteps(t)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		loadJSON(t, tl, nil)
	}()
	go func() {
		defer wg.Done()
		for _, s := range steps {
			l.LinkStep(s)
			_ = tl.Watermark(SourceJSONLog)
		}
	}()
	wg.Wait()
	if err := l.Flush(true); err != nil {
		t.Fatal(err)
	}
	if len(l.order) != 0 || len(l.seqs) != 0 || len(l.emitted) != 0 {
		t.Fatalf("state kept after final flush: %d sequences, %d emitted keys", len(l.order), len(l.emitted))
	}
	if st := l.Stats(); st.Steps != len(steps) || st.SpansEmitted == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDropDoneAndEmitFor(t *testing.T) {
	tests := []struct {
		name    string
		emitFor func(*span.Resource) bool
		spans   int
	}{
		{"all files", nil, 4},
		{"no file", func(*span.Resource) bool { return false }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := NewTimeline(TimelineOptions{})
			steps := smallScenario(t, tl)
			var got []span.Span
			l := New(tl, func(b *span.Batch) error { got = append(got, b.Spans...); return nil }, Options{EmitFor: tc.emitFor, SpanWait: 10 * time.Second})
			for _, s := range steps[:3] {
				l.LinkStep(s)
			}
			if err := l.Flush(false); err != nil || len(got) != tc.spans {
				t.Fatalf("%d spans (%v), want %d", len(got), err, tc.spans)
			}
			if len(l.order) != 1 {
				t.Fatal("file dropped before the sources moved past it")
			}
			tl.Advance(SourceJSONLog, ns(base+60))
			if err := l.Flush(false); err != nil || len(l.order) != 0 {
				t.Fatalf("file kept after everything was written (%v)", err)
			}
			if st := l.Stats(); st.Steps != 3 || st.Pairs != 3 {
				t.Fatalf("stats lost with the file: %+v", st)
			}
		})
	}
}

// TestChunkedPrefill: r1's prompt is prefilled in two chunks (steps 1 and
// 2, one context request each) while r2 decodes.
func TestChunkedPrefill(t *testing.T) {
	res := &span.Resource{}
	steps := []enginestep.Step{
		mkStep(res, 0, "execute_context_1(10)_generation_0(0)", ns(base+0.010), ns(base+0.020)),
		mkStep(res, 1, "execute_context_1(512)_generation_1(1)", ns(base+0.020), ns(base+0.030)),
		mkStep(res, 2, "execute_context_1(300)_generation_1(1)", ns(base+0.030), ns(base+0.040)),
		mkStep(res, 3, "execute_context_0(0)_generation_2(2)", ns(base+0.040), ns(base+0.050)),
	}
	want := "0:r2/prefill 1:r1/prefill 1:r2/decode 2:r1/prefill 2:r2/decode 3:r1/decode 3:r2/decode"
	tests := []struct {
		name string
		load func(t *testing.T, tl *Timeline)
	}{
		{"json log", func(t *testing.T, tl *Timeline) {
			jsonLine(t, tl, base+0.000, "Added request r2.")
			jsonLine(t, tl, base+0.015, "Added request r1.")
			jsonLine(t, tl, base+0.0501, "Generated response r1: output: 'x', output_token_ids: [1], finish_reason: stop")
			jsonLine(t, tl, base+0.0502, "Generated response r2: output: 'x', output_token_ids: [1], finish_reason: stop")
		}},
		{"llm_request spans", func(t *testing.T, tl *Timeline) {
			add := func(id string, arrival, sched, first, last float64) {
				attrs := []span.Attr{span.String("gen_ai.request.id", id),
					span.Float("gen_ai.latency.time_to_first_token", first-arrival),
					span.Float("gen_ai.latency.time_in_model_prefill", first-sched),
					span.Float("gen_ai.latency.time_in_model_decode", last-first)}
				if err := tl.AddLLMRequestSpan(span.TraceID{byte(len(id)), id[1]}, span.SpanID{1, id[1]}, span.SpanID{}, ns(base+arrival), ns(base+last+0.0001), attrs); err != nil {
					t.Fatal(err)
				}
			}
			add("r2", 0.000, 0.009, 0.0199, 0.0499)
			add("r1", 0.015, 0.0199, 0.0399, 0.0499)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tl := NewTimeline(TimelineOptions{})
			tc.load(t, tl)
			l := New(tl, func(*span.Batch) error { return nil }, Options{})
			for _, s := range steps {
				l.LinkStep(s)
			}
			var got []string
			for _, p := range l.Pairs() {
				got = append(got, fmt.Sprintf("%d:%s/%s", p.StepIndex, p.RequestID, p.Phase))
			}
			sort.Strings(got)
			if g := strings.Join(got, " "); g != want {
				t.Fatalf("got  %s\nwant %s", g, want)
			}
		})
	}
}

// TestProfilerStepsWithoutCounts: ProfilerStep#N steps carry no batch
// composition; with exact span times the requests are still found, and the
// steps are counted as NoCounts.
func TestProfilerStepsWithoutCounts(t *testing.T) {
	tl := NewTimeline(TimelineOptions{})
	add := func(id string, arrival, sched, first, last float64) {
		attrs := []span.Attr{span.String("gen_ai.request.id", id),
			span.Float("gen_ai.latency.time_to_first_token", first-arrival),
			span.Float("gen_ai.latency.time_in_model_prefill", first-sched),
			span.Float("gen_ai.latency.time_in_model_decode", last-first)}
		if err := tl.AddLLMRequestSpan(span.TraceID{1, id[1]}, span.SpanID{1, id[1]}, span.SpanID{}, ns(base+arrival), ns(base+last+0.0001), attrs); err != nil {
			t.Fatal(err)
		}
	}
	add("r1", 0.000, 0.009, 0.0199, 0.0399)
	add("r2", 0.012, 0.0199, 0.0299, 0.0499)
	res := &span.Resource{}
	l := New(tl, func(*span.Batch) error { return nil }, Options{})
	for i := range 4 {
		l.LinkStep(mkStep(res, i, fmt.Sprintf("ProfilerStep#%d", i), ns(base+0.010+0.01*float64(i)), ns(base+0.020+0.01*float64(i))))
	}
	var got []string
	for _, p := range l.Pairs() {
		got = append(got, fmt.Sprintf("%d:%s/%s", p.StepIndex, p.RequestID, p.Phase))
	}
	sort.Strings(got)
	want := "0:r1/prefill 1:r1/decode 1:r2/prefill 2:r1/decode 2:r2/decode 3:r2/decode"
	if g := strings.Join(got, " "); g != want {
		t.Fatalf("got  %s\nwant %s", g, want)
	}
	if st := l.Stats(); st.NoCounts != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// TestLinkStepDuringSlowEmit: a backend that blocks emit must not block
// LinkStep.
func TestLinkStepDuringSlowEmit(t *testing.T) {
	tl := NewTimeline(TimelineOptions{})
	steps := smallScenario(t, tl)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	l := New(tl, func(*span.Batch) error {
		once.Do(func() { close(entered) })
		<-release
		return nil
	}, Options{})
	l.LinkStep(steps[0])
	done := make(chan error, 1)
	go func() { done <- l.Flush(true) }()
	<-entered
	linked := make(chan struct{})
	go func() {
		l.LinkStep(steps[1])
		close(linked)
	}()
	select {
	case <-linked:
	case <-time.After(5 * time.Second):
		t.Fatal("LinkStep blocked by a slow emit")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The step linked during the flush is still held, for the next one.
	if st := l.Stats(); st.Steps != 2 || st.Pairs != 2 {
		t.Fatalf("stats %+v", st)
	}
	if len(l.order) != 1 {
		t.Fatal("the file that got a step during the flush was dropped")
	}
}

// attrOf is s's attribute key, nil when absent.
func attrOf(s span.Span, key string) any {
	v, ok := span.Lookup(s.Attrs, key)
	if !ok {
		return nil
	}
	return v.Num
}
