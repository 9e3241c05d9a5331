package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// scanValidate checks that data is one JSON value (bare NaN words allowed
// as nanFilter allows them) with the scanner, whose window starts at
// window bytes; for an object or array it also returns the captured raw
// text.
func scanValidate(data []byte, window, chunk int) (raw []byte, err error) {
	var s Scanner
	s.Init(testkit.NewChunkReader(data, chunk))
	s.Window(window)
	c, ok, eof := s.WSEOF()
	if eof {
		return nil, newError(ErrTruncated, 0, "empty input")
	}
	if !ok {
		return nil, s.err
	}
	if c == '{' || c == '[' {
		r, ok := s.Capture(0)
		if !ok {
			return nil, s.err
		}
		raw = bytes.Clone(r)
	} else if _, ok := s.Token(c); !ok { // a top-level scalar, read as jsontext reads it
		return nil, s.err
	}
	c, ok, eof = s.WSEOF()
	if !eof {
		if !ok {
			return nil, s.err
		}
		off := s.Off()
		if _, ok := s.Token(c); !ok {
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
		data := testkit.ReadFile(t, f)
		checkScan(t, data)
		checkScan(t, data[:len(data)/2])
		checkScan(t, data[:len(data)-2])
	}
}

// goldenInputs are the converter's golden traces and one HTA trace.
func goldenInputs(t testing.TB) []string {
	return testkit.Glob(t, "../../testdata/golden/*.json", "../../testdata/hta/call_stack--backward_thread.json")
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
		f.Add(testkit.ReadFile(f, file))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScan(t, data)
	})
}
