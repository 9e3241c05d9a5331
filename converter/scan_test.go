package converter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// chunkReader returns data in reads of 1..max bytes (a fixed pseudo-random
// sequence), so the scanner refills in the middle of every kind of token.
type chunkReader struct {
	data []byte
	max  int
	rng  *rand.Rand
}

func newChunkReader(data []byte, max int) *chunkReader {
	return &chunkReader{data: data, max: max, rng: rand.New(rand.NewPCG(uint64(len(data)), uint64(max)))}
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), 1+r.rng.IntN(r.max))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// scanValidate checks that data is one JSON value (bare NaN words allowed
// as nanFilter allows them) with the scanner, whose window starts at
// window bytes; for an object or array it also returns the captured raw
// text.
func scanValidate(data []byte, window, chunk int) (raw []byte, err error) {
	var s scanner
	s.init(newChunkReader(data, chunk))
	s.buf = make([]byte, window)
	c, ok, eof := s.wsEOF()
	if eof {
		return nil, newError(ErrTruncated, 0, "empty input")
	}
	if !ok {
		return nil, s.err
	}
	if c == '{' || c == '[' {
		r, ok := s.capture(0)
		if !ok {
			return nil, s.err
		}
		raw = bytes.Clone(r)
	} else if _, ok := s.token(c); !ok { // a top-level scalar, read as jsontext reads it
		return nil, s.err
	}
	c, ok, eof = s.wsEOF()
	if !eof {
		if !ok {
			return nil, s.err
		}
		off := s.off()
		if _, ok := s.token(c); !ok {
			return nil, s.err
		}
		return nil, newError(ErrMalformed, off, "data after the value")
	}
	return raw, nil
}

// refValidate is the reference: nanFilter, then the jsontext decoder with
// the options the converter used before the scanner replaced it.
func refValidate(data []byte) (filtered []byte, err error) {
	var f nanFilter
	filtered = f.finish(f.apply(nil, data))
	d := jsontext.NewDecoder(bytes.NewReader(filtered), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	classify := func(err error) error {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return ErrTruncated
		}
		return ErrMalformed
	}
	if _, err := d.ReadValue(); err != nil {
		return filtered, classify(err)
	}
	if _, err := d.ReadToken(); err != io.EOF {
		if err == nil {
			return filtered, ErrMalformed
		}
		return filtered, classify(err)
	}
	return filtered, nil
}

func kindOf(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrTruncated):
		return ErrTruncated
	case errors.Is(err, ErrMalformed):
		return ErrMalformed
	}
	return err
}

// checkScan compares the scanner with the references on data.
func checkScan(t *testing.T, data []byte) {
	t.Helper()
	filtered, want := refValidate(data)
	if json.Valid(filtered) != (want == nil) {
		t.Fatalf("%q: references disagree: jsontext %v, encoding/json.Valid %v", data, want, json.Valid(filtered))
	}
	for _, w := range []struct{ window, chunk int }{{scanWindow, 1 << 20}, {4, 3}, {16, 1}} {
		raw, err := scanValidate(data, w.window, w.chunk)
		if got := kindOf(err); got != want {
			t.Fatalf("%q (window %d, reads of up to %d): scanner %v, want %v", data, w.window, w.chunk, err, want)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason == "" || e.Offset < 0 || e.Offset > int64(len(data)) {
				t.Fatalf("%q: error %#v has no reason or a bad offset", data, err)
			}
			continue
		}
		if raw != nil {
			if trimmed := bytes.Trim(filtered, " \t\r\n"); !bytes.Equal(raw, trimmed) {
				t.Fatalf("%q: captured %q, want %q", data, raw, trimmed)
			}
		}
	}
}

var scanCases = []string{
	``, ` `, `{}`, `[]`, ` {"a" : [1, -2.5e+3, true, false, null, "x"] } `,
	`{"a":1,}`, `[1,]`, `[,1]`, `{"a" 1}`, `{"a":1 "b":2}`, `{1:2}`, `{"a":1}}`, `[1]]`, `]`, `}`, `:`, `,`,
	`"abc`, `"abc\`, `"abc\u12`, `"abc\u12x4"`, `"\x"`, `"\ud800"`, `"\ud83d\ude00"`, `"\uDFFF\uD800"`,
	"\"a\tb\"", "\"a\x00\"", "\"\xff\xfe\"", `"\"\\\/\b\f\n\r\t"`,
	`0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e`, `1e+`, `1E-7`, `.5`, `+1`, `-.5`, `1.e5`, `0x10`, `1_000`,
	`t`, `tr`, `tru`, `true`, `truex`, `nul`, `null`, `nulll`, `f`, `fals`, `false`,
	`nan`, `NaN`, `-nan`, `NAN`, `inf`, `-inf`, `Inf`, `INF`, `Infinity`, `-Infinity`, `infinity`, `+inf`,
	`na`, `N`, `-i`, `-in`, `nanny`, `NaNx`, `Infinityy`, `-Infinityx`, `inf1`,
	`{"a":NaN}`, `{"a":-Infinity,"b":[nan,inf,{"c":-nan}]}`, `{NaN:1}`, `{-inf:[]}`, `{true:1}`, `{null:1}`,
	`[nan"x"]`, `[nan{}]`, `[NaN:1]`, `{"a":nan"b":1}`, `[1 2]`, `[1,2`, `{"a":{"b":[{}`, `[nan`, `{"a":nan`,
	`0-`, `1x`, `1-`, `1 -`, `01`, `1.5.3`, `-x`, `truex`, `true1`, `nullnull`, `nullnan`, `nanx`, `-nanx`, `0x`,
	`{}0-`, `{}01`, `{}1x`, `{}truex`, `{}tr`, `{}-`, `{}-x`, `{}1e`,
	`{} {}`, `{} x`, `{} "ab`, `{} 1`, `{} nan`, `{} na`, `{} -`, `{} ]`, `[] `, "{}\n\t\r ",
	"{\"a\":1}\x00", "\x00", "\v{}", "{}\f",
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
	`{"traceEvents":[{"ph":"X","ts":NaN,"args":{"a":-inf,"b":[1,nan],"c":{"d":Infinity}}}]}`,
}

func TestScanner(t *testing.T) {
	for _, c := range scanCases {
		checkScan(t, []byte(c))
	}
	for _, f := range goldenInputs(t) {
		data := readFile(t, f)
		checkScan(t, data)
		checkScan(t, data[:len(data)/2])
		checkScan(t, data[:len(data)-2])
	}
}

func goldenInputs(t testing.TB) []string {
	files, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	return append(files, "testdata/hta/call_stack--backward_thread.json")
}

// FuzzScanner: on any input, the scanner accepts exactly what
// encoding/json.Valid accepts after the NaN filter, tells truncated from
// malformed input as the jsontext decoder does, and captures an object or
// array as the filter would have passed it on, whatever the window size
// and read sizes.
func FuzzScanner(f *testing.F) {
	for _, c := range scanCases {
		if len(c) < 1000 {
			f.Add([]byte(c))
		}
	}
	for _, file := range goldenInputs(f) {
		f.Add(readFile(f, file))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScan(t, data)
	})
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
			st, err := convert(context.Background(), newChunkReader(data, chunk), goldenOptions(name), got.emit, tuning{readMax: chunk})
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
