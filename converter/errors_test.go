package converter

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// TestMain fails the package if a goroutine (a read-ahead producer) outlives
// the tests.
func TestMain(m *testing.M) { os.Exit(testkit.RunTests(m)) }

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func deep(n int, open, close string) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

func TestMalformedInputs(t *testing.T) {
	good := readFile(t, "testdata/golden/era_e_full.json")
	goodGz := gz(t, good)
	fixture := readFile(t, "testdata/hta/nccl_parser_config--nccl_data.json.gz")
	badCRC := bytes.Clone(goodGz)
	badCRC[len(badCRC)-8] ^= 0xff
	badSize := bytes.Clone(goodGz)
	badSize[len(badSize)-1] ^= 0xff
	corrupt := bytes.Clone(fixture)
	for i := 200; i < 260; i++ {
		corrupt[i] ^= 0x55
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"whitespace", []byte(" \n\t "), ErrTruncated},
		{"not JSON", []byte("hello world"), ErrMalformed},
		{"top-level array", []byte(`[{"ph":"X"}]`), ErrNotKineto},
		{"top-level string", []byte(`"traceEvents"`), ErrNotKineto},
		{"no traceEvents", []byte(`{"schemaVersion": 1, "deviceProperties": []}`), ErrNotKineto},
		{"traceEvents number", []byte(`{"traceEvents": 5}`), ErrMalformed},
		{"traceEvents object", []byte(`{"traceEvents": {"ph": "X"}}`), ErrMalformed},
		{"two traceEvents", []byte(`{"traceEvents": [], "traceEvents": []}`), ErrMalformed},
		{"truncated JSON", good[:len(good)/2], ErrTruncated},
		{"truncated JSON before close", good[:bytes.LastIndexByte(good, '}')], ErrTruncated},
		{"truncated gzip", fixture[:len(fixture)/2], ErrTruncated},
		{"gzip without trailer", goodGz[:len(goodGz)-8], ErrTruncated},
		{"gzip half trailer", goodGz[:len(goodGz)-3], ErrTruncated},
		{"gzip header only", goodGz[:10], ErrTruncated},
		{"gzip one byte", goodGz[:1], ErrTruncated},
		{"gzip bad CRC", badCRC, ErrMalformed},
		{"gzip bad size", badSize, ErrMalformed},
		{"gzip corrupt data", corrupt, ErrMalformed},
		{"gzip of not JSON", gz(t, []byte("not json at all")), ErrMalformed},
		{"data after object", append(bytes.Clone(good), []byte(" {}")...), ErrMalformed},
		{"deep args", []byte(`{"traceEvents":[{"ph":"X","ts":1,"args":{"a":` + deep(100000, "[", "]") + `}}]}`), ErrMalformed},
		{"deep top-level", []byte(`{"x":` + deep(100000, `{"a":`, "}") + `,"traceEvents":[]}`), ErrMalformed},
		{"deep event", []byte(`{"traceEvents":[` + deep(100000, "[", "]") + `]}`), ErrMalformed},
		{"bad token in event", []byte(`{"traceEvents":[{"ph":"X","ts":01}]}`), ErrMalformed},
		{"unterminated string", []byte(`{"traceEvents":[{"name":"abc`), ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emitted := 0
			_, err := Convert(context.Background(), bytes.NewReader(tc.in), DefaultOptions(), func(*span.Batch) error {
				emitted++
				return nil
			})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Reason == "" {
				t.Fatalf("err %v is not a *Error with a reason", err)
			}
			if emitted != 0 {
				t.Fatalf("%d batches emitted before the error", emitted)
			}
		})
	}
}

// Tolerated oddities: wrong field types, non-numbers, non-object events.
func TestToleratedInputs(t *testing.T) {
	in := `{"traceEvents":[
	  1, "x", null,
	  {"ph":"X","cat":"cpu_op","name":"no ts","pid":1,"tid":1},
	  {"ph":"X","cat":"cpu_op","name":"obj ts","pid":1,"tid":1,"ts":{"a":1},"dur":1},
	  {"ph":"X","cat":"cpu_op","name":"inf ts","pid":1,"tid":1,"ts":"inf","dur":1},
	  {"ph":"X","cat":"cpu_op","name":"bad dur","pid":"1","tid":"1","ts":"5","dur":"N/A"},
	  {"ph":"X","cat":"cpu_op","name":"neg dur","pid":1,"tid":1,"ts":6,"dur":-3},
	  {"ph":"X","cat":"kernel","name":"k","pid":0,"tid":7,"ts":7,"dur":1,"args":{"correlation":3,"blocks per SM":NaN,"warps per SM":-inf,"x":Infinity,"device":0,"stream":7}},
	  {"ph":"X","cat":"cpu_op","name":"args not object","pid":1,"tid":1,"ts":8,"dur":1,"args":[1,2]},
	  {"ph":"X","cat":"cpu_op","name":"exp ts","pid":1,"tid":1,"ts":9.5e0,"dur":1e-3},
	  {"ph":"Q","name":"odd phase","pid":1,"tid":1,"ts":10},
	  {"ph":"X","cat":"cpu_op","name":"esc\"aped\u00e9\xff","pid":1,"tid":1,"ts":11,"dur":1,"args":{"k\xfe":"v\xfd"}}
	]}`
	in = strings.ReplaceAll(in, `\xff`, "\xff")
	in = strings.ReplaceAll(in, `\xfe`, "\xfe")
	in = strings.ReplaceAll(in, `\xfd`, "\xfd")
	c, st, err := convertBytes(t, []byte(in), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	checkTrees(t, c.spans)
	if st.Skipped != 6 {
		t.Errorf("Skipped = %d, want 6 (3 non-objects, 3 X without a usable ts)", st.Skipped)
	}
	if st.NonNumeric != 3 {
		t.Errorf("NonNumeric = %d, want 3", st.NonNumeric)
	}
	if st.OrphanGPU != 1 || st.UnknownPhases != 1 {
		t.Errorf("OrphanGPU = %d, UnknownPhases = %d", st.OrphanGPU, st.UnknownPhases)
	}
	names := map[string]span.Span{}
	for _, s := range c.spans {
		names[s.Name] = s
	}
	if s := names["exp ts"]; s.Start != 9500 || s.End != 9501 {
		t.Errorf("exp ts: %d..%d", s.Start, s.End)
	}
	if s := names["neg dur"]; s.End != s.Start {
		t.Errorf("negative dur not clamped: %d..%d", s.Start, s.End)
	}
	esc, ok := names["esc\"aped\u00e9\ufffd"]
	if !ok {
		t.Errorf("escaped name with invalid UTF-8 not found: %v", names)
	} else if v, _ := lookupStr(esc.Attrs, "kineto.arg.k"); v != "v\ufffd" {
		t.Errorf("invalid UTF-8 arg value = %q", v)
	}
	for _, s := range c.spans {
		if !utf8.ValidString(s.Name) {
			t.Errorf("span name %q is not valid UTF-8", s.Name)
		}
	}
	if st.TimeBase != "unknown" {
		t.Errorf("TimeBase = %q", st.TimeBase)
	}
}

func TestEmitErrorAborts(t *testing.T) {
	stop := errors.New("backend full")
	calls := 0
	_, err := Convert(context.Background(), bytes.NewReader(readFile(t, "testdata/golden/era_e_full.json")),
		DefaultOptions(), func(*span.Batch) error {
			calls++
			return stop
		})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Convert(ctx, bytes.NewReader(readFile(t, "testdata/hta/nccl_parser_config--nccl_data.json.gz")),
		DefaultOptions(), func(*span.Batch) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// A reader error is passed through (neither truncated nor malformed).
type failingReader struct{ n int }

var errDisk = errors.New("disk on fire")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n > 0 {
		f.n--
		return copy(p, `{"traceEvents":[`), nil
	}
	return 0, errDisk
}

func TestReaderErrorPassedThrough(t *testing.T) {
	_, err := Convert(context.Background(), &failingReader{n: 1}, DefaultOptions(), func(*span.Batch) error { return nil })
	if !errors.Is(err, errDisk) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v", err)
	}
}

// cpuOps is a trace of n cpu_op events on one thread, event i at the
// ts and dur (µs) that at gives.
func cpuOps(n int, at func(i int) (ts, dur int)) []byte {
	var b strings.Builder
	b.WriteString(`{"traceEvents":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		ts, dur := at(i)
		b.WriteString(`{"ph":"X","cat":"cpu_op","name":"o","pid":1,"tid":1,"ts":` + strconv.Itoa(ts) + `,"dur":` + strconv.Itoa(dur) + `}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// Many overlapping, non-nested events on one thread must stay fast (no
// quadratic parent search) and still give well-formed trees.
func TestOverlappingEventsLinear(t *testing.T) {
	const n = 50000
	// event i starts 2 µs after event i-1 and lasts 2n µs: every event
	// overlaps every later one without containing it.
	trace := cpuOps(n, func(i int) (ts, dur int) { return 2 * i, 2 * n })
	opts := DefaultOptions()
	opts.MaxSpansPerTrace = 0
	c, st, err := convertBytes(t, trace, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.SpansEmitted != n+1 {
		t.Fatalf("%d spans", st.SpansEmitted)
	}
	checkTrees(t, c.spans)
}

// A deeply nested chain under a small cap: the dropped-ancestor search must
// stay linear, and the summaries must still add up.
func TestDeepChainCap(t *testing.T) {
	const n = 40000
	trace := cpuOps(n, func(i int) (ts, dur int) { return i, 2*n - 2*i })
	opts := DefaultOptions()
	opts.MaxSpansPerTrace = 100
	c, st, err := convertBytes(t, trace, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkTrees(t, c.spans)
	var dropped int64
	for _, s := range c.spans {
		n, _ := lookupInt(s.Attrs, "bridge.dropped_spans.count")
		dropped += n
	}
	if len(c.spans) != 100 || dropped != st.SpansDropped || dropped != n+1-100 {
		t.Fatalf("%d spans, %d dropped reported, Stats %d", len(c.spans), dropped, st.SpansDropped)
	}
}
