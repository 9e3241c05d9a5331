package containerlog

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func ns(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

// parseCase is one line for a parser and the Line it must give (or an
// error).
type parseCase struct {
	in      string
	want    Line
	wantErr bool
}

// checkParse runs parse (called name in messages) on each case.
func checkParse(t *testing.T, name string, parse func([]byte) (Line, error), tests []parseCase) {
	t.Helper()
	for _, tc := range tests {
		got, err := parse([]byte(tc.in))
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s(%q) = %+v, want an error", name, tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s(%q): %v", name, tc.in, err)
			continue
		}
		if got.Time != tc.want.Time || got.Resolution != tc.want.Resolution || got.Stream != tc.want.Stream ||
			got.Partial != tc.want.Partial || !bytes.Equal(got.Text, tc.want.Text) {
			t.Errorf("%s(%q) = %+v (text %q), want %+v", name, tc.in, got, got.Text, tc.want)
		}
	}
}

func TestParseCRI(t *testing.T) {
	checkParse(t, "ParseCRI", ParseCRI, []parseCase{
		{in: "2026-12-07T03:22:51.123456789Z stdout F hello world",
			want: Line{Time: 1796613771123456789, Resolution: 1, Stream: "stdout", Text: []byte("hello world")}},
		{in: "2026-12-07T03:22:51.1Z stderr P part",
			want: Line{Time: ns("2026-12-07T03:22:51.1Z"), Resolution: 1e8, Stream: "stderr", Partial: true, Text: []byte("part")}},
		{in: "2026-12-07T03:22:51Z stdout F ",
			want: Line{Time: ns("2026-12-07T03:22:51Z"), Resolution: 1e9, Stream: "stdout", Text: []byte("")}},
		{in: "2026-12-07T03:22:51Z stdout F",
			want: Line{Time: ns("2026-12-07T03:22:51Z"), Resolution: 1e9, Stream: "stdout", Text: nil}},
		{in: "2026-12-07T05:22:51.5+02:00 stdout F:x y\r\n",
			want: Line{Time: ns("2026-12-07T03:22:51.5Z"), Resolution: 1e8, Stream: "stdout", Text: []byte("y")}},
		{in: "2026-12-07T03:22:51Z stdin F x", wantErr: true},
		{in: "2026-12-07T03:22:51Z stdout X x", wantErr: true},
		{in: "INFO 12-07 03:22:51 [logger.py:63] Received request x", wantErr: true},
		{in: "2026-13-07T03:22:51Z stdout F x", wantErr: true},
		{in: "", wantErr: true},
	})
}

func TestParseDocker(t *testing.T) {
	checkParse(t, "ParseDocker", ParseDocker, []parseCase{
		{in: `{"log":"INFO 12-07 03:22:51 [logger.py:63] x\n","stream":"stderr","time":"2026-12-07T03:22:51.123456789Z"}`,
			want: Line{Time: 1796613771123456789, Resolution: 1, Stream: "stderr", Text: []byte("INFO 12-07 03:22:51 [logger.py:63] x")}},
		{in: `{"log":"cut here","stream":"stdout","time":"2026-12-07T03:22:51.12Z"}`,
			want: Line{Time: ns("2026-12-07T03:22:51.12Z"), Resolution: 1e7, Stream: "stdout", Partial: true, Text: []byte("cut here")}},
		{in: `{"log":"crlf\r\n","time":"2026-12-07T03:22:51Z"}`,
			want: Line{Time: ns("2026-12-07T03:22:51Z"), Resolution: 1e9, Stream: "stdout", Text: []byte("crlf")}},
		{in: `{"log":"x\n","stream":"stdout"}`, wantErr: true},
		{in: `{"stream":"stdout","time":"2026-12-07T03:22:51Z"}`, wantErr: true},
		{in: `{"log":"x\n","stream":"tty","time":"2026-12-07T03:22:51Z"}`, wantErr: true},
		{in: `{"log":`, wantErr: true},
	})
}

func TestDetectFormat(t *testing.T) {
	tests := map[string]Format{
		"":                                    FormatUnknown,
		"  \r\n":                              FormatUnknown,
		"2026-12-07T03:22:51.1Z stdout F abc": FormatCRI,
		`{"log":"abc\n","stream":"stdout","time":"2026-12-07T03:22:51.1Z"}`:                             FormatDocker,
		`{"created": 1795789263.5, "message": "Received request x: params: None, lora_request: None."}`: FormatPlain,
		`{"log": "not docker: no time"}`:                                                                FormatPlain,
		"(APIServer pid=7) INFO 11-27 14:21:03 [logger.py:63] Received ...":                             FormatPlain,
	}
	for in, want := range tests {
		if got := DetectFormat([]byte(in)); got != want {
			t.Errorf("DetectFormat(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestJoiner joins testdata/joiner.cri.log, a CRI log whose partial
// lines (some ending in a space) interleave two streams and whose last
// line is left partial.
func TestJoiner(t *testing.T) {
	log, err := os.ReadFile(filepath.Join("testdata", "joiner.cri.log"))
	if err != nil {
		t.Fatal(err)
	}
	var j Joiner
	var got []string
	for _, s := range strings.Split(strings.TrimSuffix(string(log), "\n"), "\n") {
		l, err := ParseCRI([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := j.Add(l); ok {
			got = append(got, w.Stream+"@"+time.Unix(0, w.Time).UTC().Format(".000000000")+" "+string(w.Text))
		}
	}
	for _, w := range j.Flush() {
		got = append(got, "flushed "+w.Stream+" "+string(w.Text))
	}
	want := []string{
		"stderr@.000000002 an error line",
		"stdout@.000000001 first half, end",
		"stdout@.000000005 whole",
		"flushed stderr dangling",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("joined:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !j.Idle() {
		t.Fatal("Idle after Flush = false")
	}
	j.Add(Line{Stream: "stderr", Partial: true, Text: []byte("x")})
	if j.Idle() {
		t.Fatal("Idle with a partial line waiting = true")
	}
	j.Flush()
	if rest := j.Flush(); len(rest) != 0 {
		t.Fatalf("second Flush returned %d lines", len(rest))
	}
}

func TestJoinerCapsLongLines(t *testing.T) {
	j := Joiner{MaxBytes: 10}
	for i := 0; i < 5; i++ {
		if _, ok := j.Add(Line{Stream: "stdout", Partial: true, Text: []byte("abcdef")}); ok {
			t.Fatal("partial fragment completed a line")
		}
	}
	w, ok := j.Add(Line{Stream: "stdout", Text: []byte("xyz")})
	if !ok || !w.Truncated || string(w.Text) != "abcdefabcd" {
		t.Fatalf("got %q truncated=%v ok=%v, want the first 10 bytes cut", w.Text, w.Truncated, ok)
	}
	w, ok = j.Add(Line{Stream: "stdout", Text: []byte("0123456789ABC")})
	if !ok || !w.Truncated || string(w.Text) != "0123456789" {
		t.Fatalf("whole line over the cap: got %q truncated=%v", w.Text, w.Truncated)
	}
}

// FuzzParseCRI checks that ParseCRI never panics and that what it accepts
// is what the line says: writing the parsed fields back gives a line that
// parses to the same values.
func FuzzParseCRI(f *testing.F) {
	f.Add([]byte("2026-12-07T03:22:51.123456789Z stdout F hello"))
	f.Add([]byte("2026-12-07T03:22:51Z stderr P "))
	f.Add([]byte("2026-12-07T03:22:51.5+02:00 stdout F:x y"))
	f.Add([]byte("(APIServer pid=7) INFO 11-27 14:21:03 [logger.py:63] Received request"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseCRI(b)
		if err != nil {
			return
		}
		tag := "F"
		if l.Partial {
			tag = "P"
		}
		again := time.Unix(0, l.Time).UTC().Format(time.RFC3339Nano) + " " + l.Stream + " " + tag + " " + string(l.Text)
		m, err := ParseCRI([]byte(again))
		if err != nil {
			t.Fatalf("%q parsed to %+v, but %q does not parse: %v", b, l, again, err)
		}
		if m.Time != l.Time || m.Stream != l.Stream || m.Partial != l.Partial || !bytes.Equal(m.Text, bytes.TrimSuffix(l.Text, []byte("\r"))) {
			t.Fatalf("%q: %+v, written back and read again: %+v", b, l, m)
		}
		if l.Resolution < 1 || l.Resolution > int64(time.Second) {
			t.Fatalf("resolution %d", l.Resolution)
		}
	})
}

// FuzzParseDocker checks that ParseDocker never panics and that an
// accepted line's text, stream and partial flag survive a round trip.
func FuzzParseDocker(f *testing.F) {
	f.Add([]byte(`{"log":"INFO x\n","stream":"stderr","time":"2026-12-07T03:22:51.123456789Z"}`))
	f.Add([]byte(`{"log":"part","stream":"stdout","time":"2026-12-07T03:22:51Z"}`))
	f.Add([]byte(`{"log":"\u00e9\r\n","time":"2026-12-07T03:22:51.1Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseDocker(b)
		if err != nil {
			return
		}
		text := string(l.Text)
		if !l.Partial {
			text += "\n"
		}
		again, err := json.Marshal(map[string]string{"log": text, "stream": l.Stream, "time": time.Unix(0, l.Time).UTC().Format(time.RFC3339Nano)})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseDocker(again)
		if err != nil {
			t.Fatalf("%q parsed to %+v, but %s does not parse: %v", b, l, again, err)
		}
		if m.Time != l.Time || m.Stream != l.Stream || m.Partial != l.Partial || !bytes.Equal(m.Text, l.Text) && !bytes.Equal(append(m.Text, '\r'), l.Text) {
			t.Fatalf("%q: %+v, written back and read again: %+v", b, l, m)
		}
	})
}
