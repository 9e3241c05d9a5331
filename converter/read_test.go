package converter

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// goldenInputs are the golden traces and one HTA trace: every kind of
// token the converter meets.
func goldenInputs(t testing.TB) []string {
	return testkit.Glob(t, "testdata/golden/*.json", "testdata/hta/call_stack--backward_thread.json")
}

// TestConvertReadSizes: the output does not depend on how the input
// arrives (every token cut by refills at some point). The source's reads
// alone would not show it: the read-ahead gathers them into 256 KiB
// chunks, so the scanner is handed odd read sizes directly (readMax).
func TestConvertReadSizes(t *testing.T) {
	for _, f := range goldenInputs(t) {
		data := readFile(t, f)
		name := filepath.Base(f)
		want, wantSt, err := convertBytes(t, data, goldenOptions(name))
		if err != nil {
			t.Fatal(err)
		}
		for _, chunk := range []int{1, 7, 100} {
			got := &collected{}
			st, err := convert(context.Background(), testkit.NewChunkReader(data, chunk), goldenOptions(name), got.emit, tuning{readMax: chunk})
			if err != nil {
				t.Fatal(err)
			}
			checkBooks(t, st)
			if g, w := got.dump()+statsDump(st), want.dump()+statsDump(wantSt); g != w {
				t.Errorf("%s, reads of up to %d bytes:\n%s", name, chunk, firstDiff(w, g))
			}
		}
	}
}

// TestConvertTopLevelTokens: what the first token or the data after the
// top-level object is classified as, as the jsontext decoder read them.
func TestConvertTopLevelTokens(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{`1x`, ErrNotKineto}, {`0-`, ErrNotKineto}, {`truex`, ErrNotKineto}, {`nan`, ErrNotKineto},
		{`[`, ErrNotKineto}, {`"ab"`, ErrNotKineto}, {`"ab`, ErrTruncated}, {`tr`, ErrTruncated}, {`-`, ErrTruncated},
		{`x`, ErrMalformed}, {`na`, ErrMalformed}, {`}`, ErrMalformed}, {`-x`, ErrMalformed},
		{`{"traceEvents":"ab`, ErrMalformed}, {`{"traceEvents":x`, ErrMalformed}, {`{"traceEvents":`, ErrTruncated},
		{`{"traceEvents":[]}0-`, ErrMalformed}, {`{"traceEvents":[]} "ab`, ErrTruncated}, {`{"traceEvents":[]} tr`, ErrTruncated},
		{`{"traceEvents":[]} nan`, ErrMalformed}, {`{"traceEvents":[]} na`, ErrMalformed}, {`{"traceEvents":[]}  `, nil},
		{`{"traceEvents":[{"ph":"X","ts":1,"args":{"a":[1,NaN]}}],"x":{"y":-inf}}`, nil},
		{`{"traceEvents":[{NaN:1}]}`, nil}, {`{"traceEvents":[{"a":nan"b":1}]}`, ErrMalformed},
	} {
		_, _, err := convertBytes(t, []byte(tc.in), DefaultOptions())
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%q: err = %v, want %v", tc.in, err, tc.want)
		}
	}
}
