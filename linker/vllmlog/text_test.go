package vllmlog

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

func ts(s string, loc *time.Location) int64 {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

func TestParseTextLine(t *testing.T) {
	opts := TextOptions{Year: 2026}
	tests := []struct {
		name string
		line string
		want Record
		err  error
	}{
		{
			name: "received U with prefix",
			line: "(APIServer pid=81234) INFO 05-19 14:03:07 [logger.py:63] Received request chatcmpl-3f9a1c7e5b2d4a60: params: SamplingParams(n=1, presence_penalty=0.0, temperature=0.7, top_p=0.9, stop=['a, b=(', \"x\"], max_tokens=256, structured_outputs=StructuredOutputsParams(json=None), extra_args=None), lora_request: None.",
			want: Record{Kind: KindReceived, Time: ts("2026-05-19 14:03:07", time.UTC), Resolution: 1e9, Process: "APIServer", PID: 81234,
				RequestIDs: []string{"chatcmpl-3f9a1c7e5b2d4a60"}, MaxTokens: 256, N: 1, Temperature: 0.7, TopP: 0.9, PromptTokens: Unknown, OutputTokens: Unknown},
		},
		{
			name: "received v0.8 with prompt and token ids, no prefix",
			line: "INFO 03-18 09:00:01 [logger.py:39] Received request cmpl-abc-0: prompt: 'Say \\'hi\\', params: SamplingParams(max_tokens=1)', params: SamplingParams(n=2, temperature=1.0, top_p=1.0, max_tokens=16), prompt_token_ids: [1, 2, 3, 4], lora_request: None, prompt_adapter_request: None.",
			want: Record{Kind: KindReceived, Time: ts("2026-03-18 09:00:01", time.UTC), Resolution: 1e9, PID: Unknown,
				RequestIDs: []string{"cmpl-abc-0"}, MaxTokens: 16, N: 2, Temperature: 1, TopP: 1, PromptTokens: 4, OutputTokens: Unknown},
		},
		{
			name: "added internal id",
			line: "(APIServer pid=7) INFO 11-27 14:21:03 [async_llm.py:415] Added request chatcmpl-1027c4d1c386bbc4-c2ce6f44.",
			want: rec(KindAdded, "2026-11-27 14:21:03", "APIServer", 7, "chatcmpl-1027c4d1c386bbc4-c2ce6f44"),
		},
		{
			name: "generated",
			line: "(APIServer pid=7) INFO 11-27 14:21:05 [logger.py:92] Generated response chatcmpl-f1: output: 'The quick, output_token_ids: [9], finish_reason: x', output_token_ids: [1, 2], finish_reason: length",
			want: withOutput(finished(rec(KindGenerated, "2026-11-27 14:21:05", "APIServer", 7, "chatcmpl-f1"), "length"), 2),
		},
		{
			name: "streaming delta",
			line: "INFO 11-27 14:21:05 [logger.py:92] Generated response cmpl-1-0 (streaming delta): output: 'x', output_token_ids: [1], finish_reason: None",
			want: withOutput(rec(KindDelta, "2026-11-27 14:21:05", "", Unknown, "cmpl-1-0"), 1),
		},
		{
			name: "streaming complete",
			line: "INFO 11-27 14:21:05 [logger.py:92] Generated response cmpl-1-0 (streaming complete): output: 'xy', output_token_ids: None, finish_reason: stop",
			want: finished(rec(KindGenerated, "2026-11-27 14:21:05", "", Unknown, "cmpl-1-0"), "stop"),
		},
		{
			name: "aborted list",
			line: "(APIServer pid=81234) INFO 05-19 14:03:12 [async_llm.py:721] Aborted request(s) cmpl-5e6f-0-1a2b3c4d,cmpl-77-0-00aa11bb.",
			want: rec(KindAborted, "2026-05-19 14:03:12", "APIServer", 81234, "cmpl-5e6f-0-1a2b3c4d", "cmpl-77-0-00aa11bb"),
		},
		{
			name: "request aborted",
			line: "(APIServer pid=81234) INFO 05-19 14:03:12 [async_llm.py:595] Request cmpl-5e6f708192a3b4c5-0 aborted.",
			want: rec(KindAborted, "2026-05-19 14:03:12", "APIServer", 81234, "cmpl-5e6f708192a3b4c5-0"),
		},
		{
			name: "request failed",
			line: "(APIServer pid=1) ERROR 05-19 14:03:12 [async_llm.py:620] Request chatcmpl-9 failed (input error): prompt 'secret' too long.",
			want: failedFor(rec(KindFailed, "2026-05-19 14:03:12", "APIServer", 1, "chatcmpl-9"), "input error"),
		},
		{
			name: "iteration",
			line: "(EngineCore_DP0 pid=211) INFO 11-27 14:21:04 [core.py:404] Iteration(42): 1 context requests, 812 context tokens, 7 generation requests, 7 generation tokens, iteration elapsed time: 23.51 ms",
			want: func() Record {
				r := rec(KindIteration, "2026-11-27 14:21:04", "EngineCore_DP0", 211)
				r.Iteration = Iteration{Index: 42, ContextRequests: 1, ContextTokens: 812, GenerationRequests: 7, GenerationTokens: 7, ElapsedNs: 23510000}
				return r
			}(),
		},
		{
			name: "colour and debug fileinfo",
			line: "(APIServer pid=7) \x1b[32mINFO\x1b[0m 11-27 14:21:03 [v1/engine/async_llm.py:415] Added request r-1.",
			want: rec(KindAdded, "2026-11-27 14:21:03", "APIServer", 7, "r-1"),
		},
		{
			name: "logging prefix",
			line: "[vllm] INFO 11-27 14:21:03 [async_llm.py:415] Added request r-2.",
			want: rec(KindAdded, "2026-11-27 14:21:03", "", Unknown, "r-2"),
		},
		{name: "throughput", line: "(APIServer pid=7) INFO 11-27 14:21:03 [loggers.py:123] Engine 000: Avg prompt throughput: 374.3 tokens/s", err: ErrNotRequestLine},
		{name: "uvicorn", line: `(APIServer pid=7) INFO:     127.0.0.1:41000 - "POST /v1/chat/completions HTTP/1.1" 200 OK`, err: ErrNotRequestLine},
		{name: "start_profile", line: `(APIServer pid=7) INFO:     127.0.0.1:41000 - "POST /start_profile HTTP/1.1" 200 OK`,
			want: Record{Kind: KindProfileStart, Resolution: 1e9, MaxTokens: Unknown, N: Unknown, PromptTokens: Unknown, OutputTokens: Unknown, Temperature: -1, TopP: -1, PID: Unknown}},
		{name: "failed start_profile", line: `INFO:     127.0.0.1:41000 - "POST /start_profile HTTP/1.1" 500 Internal Server Error`, err: ErrNotRequestLine},
		{name: "empty", line: "", err: ErrNotRequestLine},
		{name: "bad iteration", line: "INFO 11-27 14:21:04 [core.py:404] Iteration(x): 1 context requests", err: ErrMalformed},
		{name: "id with space", line: "INFO 11-27 14:21:04 [a.py:1] Added request a b.", err: ErrMalformed},
		{name: "bad month", line: "INFO 13-27 14:21:04 [a.py:1] Added request a.", err: ErrNotRequestLine},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTextLine(tc.line, opts)
			if !wantRecord(t, err, tc.err) {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// wantRecord checks a parser's error against a table case's: wantErr
// (errors.Is) or, when wantErr is nil, none. It reports whether the case
// wants a record, to be compared next.
func wantRecord(t *testing.T, err, wantErr error) bool {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("err = %v, want %v", err, wantErr)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// finished is r with finish reason why.
func finished(r Record, why string) Record { r.FinishReason = why; return r }

// withOutput is r with n output tokens.
func withOutput(r Record, n int) Record { r.OutputTokens = n; return r }

// failedFor is r with failure reason why.
func failedFor(r Record, why string) Record { r.Reason = why; return r }

func rec(k Kind, at, proc string, pid int, ids ...string) Record {
	r := newRecord(k)
	r.Time, r.Resolution, r.Process, r.PID = ts(at, time.UTC), 1e9, proc, pid
	if len(ids) > 0 {
		r.RequestIDs = ids
	}
	return r
}

func TestTextTimeZoneAndYear(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	line := "INFO 12-31 23:59:59 [a.py:1] Added request a."
	tests := []struct {
		name string
		opts TextOptions
		want int64
	}{
		{"explicit year", TextOptions{Year: 2024, Location: berlin}, ts("2024-12-31 23:59:59", berlin)},
		{"reference in january picks previous year", TextOptions{Reference: time.Date(2027, 1, 1, 0, 5, 0, 0, time.UTC)}, ts("2026-12-31 23:59:59", time.UTC)},
		{"reference in december", TextOptions{Reference: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}, ts("2026-12-31 23:59:59", time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseTextLine(line, tc.opts)
			if err != nil || r.Time != tc.want {
				t.Fatalf("time %d err %v, want %d", r.Time, err, tc.want)
			}
		})
	}
	// A stream crossing the new year keeps increasing.
	p := NewTextParser(TextOptions{Reference: time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)})
	a, _ := p.Parse(line)
	b, err := p.Parse("INFO 01-01 00:00:01 [a.py:1] Added request b.")
	if err != nil || b.Time != ts("2027-01-01 00:00:01", time.UTC) || b.Time <= a.Time {
		t.Fatalf("rollover: %d then %d (%v)", a.Time, b.Time, err)
	}
}

// TestPrivacy checks that no prompt, output or token id survives parsing
// unless asked for.
func TestPrivacy(t *testing.T) {
	lines := []string{
		"INFO 03-18 09:00:01 [logger.py:39] Received request cmpl-abc-0: prompt: 'SECRETPROMPT', params: SamplingParams(n=1, max_tokens=16), prompt_token_ids: [31337, 31338], lora_request: None.",
		"INFO 11-27 14:21:05 [logger.py:92] Generated response chatcmpl-f1: output: 'SECRETOUTPUT', output_token_ids: [31339, 31340], finish_reason: stop",
		"ERROR 05-19 14:03:12 [async_llm.py:620] Request chatcmpl-9 failed (bad request): SECRETPROMPT is invalid.",
	}
	secrets := []string{"SECRET", "31337", "31338", "31339", "31340"}
	for _, l := range lines {
		r, err := ParseTextLine(l, TextOptions{Year: 2026})
		if err != nil {
			t.Fatal(err)
		}
		dump := strings.ToUpper(strings.Join(append(r.RequestIDs, r.Prompt, r.Output, r.Reason, r.FinishReason, r.Process), "|"))
		for _, s := range secrets {
			if strings.Contains(dump, s) {
				t.Errorf("%q survived parsing of %q", s, l)
			}
		}
		j, err := ParseJSONLine([]byte(`{"created": 1.5, "message": `+quote(l[strings.Index(l, "] ")+2:])+`}`), JSONOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if j.Prompt != "" || j.Output != "" {
			t.Errorf("json kept text: %+v", j)
		}
	}
	r, _ := ParseTextLine(lines[0], TextOptions{Year: 2026, AllowPromptText: true})
	if r.Prompt != "SECRETPROMPT" {
		t.Errorf("opt-in prompt = %q", r.Prompt)
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// TestFixtureText parses the whole fixture log: every request line must
// parse, and the counts must match the truth.
func TestFixtureText(t *testing.T) {
	data := testkit.ReadFile(t, filepath.Join("..", "..", "testdata", "h100", "vllm.log"))
	counts := map[Kind]int{}
	p := NewTextParser(TextOptions{Year: 2026})
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		r, err := p.Parse(l)
		if errors.Is(err, ErrNotRequestLine) {
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		counts[r.Kind]++
	}
	want := map[Kind]int{KindReceived: 60, KindAdded: 60, KindGenerated: 56, KindIteration: 260, KindProfileStart: 2, KindProfileStop: 2}
	if !reflect.DeepEqual(counts, want) {
		t.Fatalf("counts %v, want %v", counts, want)
	}
}

// FuzzParseLogLine feeds one line to both parsers and the format
// detection. Its seeds are the corpus in testdata/fuzz/FuzzParseLogLine:
// one line of each request-log shape (seed-*, text and JSON) and inputs
// the fuzzer found.
func FuzzParseLogLine(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		for _, allow := range []bool{false, true} {
			r, err := ParseTextLine(line, TextOptions{Year: 2026, AllowPromptText: allow})
			checkRecord(t, line, r, err, allow)
			r, err = ParseJSONLine([]byte(line), JSONOptions{AllowPromptText: allow})
			checkRecord(t, line, r, err, allow)
		}
		_ = DetectFormat([]byte(line))
	})
}

func checkRecord(t *testing.T, line string, r Record, err error, allow bool) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrNotRequestLine) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoTime) {
			t.Fatalf("%q: unclassified error %v", line, err)
		}
		return
	}
	if r.Kind == 0 {
		t.Fatalf("%q: record without kind", line)
	}
	marker := r.Kind == KindProfileStart || r.Kind == KindProfileStop
	if r.Kind != KindIteration && !marker && len(r.RequestIDs) == 0 {
		t.Fatalf("%q: %v record without request id", line, r.Kind)
	}
	for _, id := range r.RequestIDs {
		if !validID(id) {
			t.Fatalf("%q: bad id %q", line, id)
		}
	}
	if !allow && (r.Prompt != "" || r.Output != "") {
		t.Fatalf("%q: text kept without opt-in", line)
	}
	if (r.Time == 0 && !marker) || r.Resolution <= 0 {
		t.Fatalf("%q: no time", line)
	}
}
