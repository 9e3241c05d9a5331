package reliability

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// badCase is one hostile input. gen writes the file's bytes (already
// compressed where gz is true); want is the converter's sentinel error, nil
// when the input must convert.
type badCase struct {
	name string
	gz   bool // the daemon file is named .json.gz
	gen  func(w io.Writer) error
	want error
	big  bool // large: memory is measured and reported
}

func jsonCase(name, doc string, want error) badCase {
	return badCase{name: name, gen: func(w io.Writer) error { _, err := io.WriteString(w, doc); return err }, want: want}
}

// event is one well-formed CPU op with fields overridden by kv pairs.
func event(kv ...string) string {
	fields := map[string]string{"ph": `"X"`, "cat": `"cpu_op"`, "name": `"aten::mm"`, "pid": "1", "tid": "1", "ts": "1700000000000000.000", "dur": "5.000", "args": `{"External id": 3}`}
	order := []string{"ph", "cat", "name", "pid", "tid", "ts", "dur", "args"}
	for i := 0; i+1 < len(kv); i += 2 {
		if _, ok := fields[kv[i]]; !ok {
			order = append(order, kv[i])
		}
		fields[kv[i]] = kv[i+1]
	}
	var b strings.Builder
	b.WriteString("{")
	for i, k := range order {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%s", k, fields[k])
	}
	b.WriteString("}")
	return b.String()
}

func trace(events ...string) string {
	return `{"schemaVersion":1,"traceEvents":[` + strings.Join(events, ",") + `]}`
}

// repeatWriter writes n copies of c.
func writeRepeat(w io.Writer, c byte, n int) error {
	buf := bytes.Repeat([]byte{c}, 1<<16)
	for n > 0 {
		k := min(n, len(buf))
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func badCases(t *testing.T) []badCase {
	small := testkit.ReadFile(t, smallTrace)
	plain := testkit.Gunzip(t, small)
	raw := func(b []byte) func(io.Writer) error {
		return func(w io.Writer) error { _, err := w.Write(b); return err }
	}
	rng := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	junkGz := append([]byte{0x1f, 0x8b, 0x08, 0x00}, junk...)

	cases := []badCase{
		{name: "truncated gzip (half the real trace)", gz: true, gen: raw(small[:len(small)/2]), want: converter.ErrTruncated},
		{name: "gzip without its 8-byte trailer", gz: true, gen: raw(small[:len(small)-8]), want: converter.ErrTruncated},
		{name: "gzip with a wrong CRC", gz: true, gen: raw(append(append([]byte{}, small[:len(small)-8]...), 0, 0, 0, 0, 0, 0, 0, 0)), want: converter.ErrMalformed},
		{name: "truncated JSON (half the real trace)", gen: raw(plain[:len(plain)/2]), want: converter.ErrTruncated},
		{name: "truncated JSON inside gzip", gz: true, gen: raw(testkit.Gzip(t, plain[:len(plain)/3])), want: converter.ErrTruncated},
		{name: "empty file", gen: raw(nil), want: converter.ErrTruncated},
		{name: "empty gzip stream", gz: true, gen: raw(testkit.Gzip(t, nil)), want: converter.ErrTruncated},
		{name: "binary file named like a trace", gen: raw(junk), want: converter.ErrMalformed},
		{name: "binary file with a gzip magic", gz: true, gen: raw(junkGz), want: converter.ErrMalformed},
		jsonCase("top level is an array", `[1,2,3]`, converter.ErrNotKineto),
		jsonCase("no traceEvents", `{"schemaVersion":1}`, converter.ErrNotKineto),
		jsonCase("traceEvents is a number", `{"traceEvents":5}`, converter.ErrMalformed),
		jsonCase("traceEvents twice (duplicate key)", `{"traceEvents":[],"traceEvents":[]}`, converter.ErrMalformed),
		jsonCase("data after the top-level object", trace(event())+`{}`, converter.ErrMalformed),
		jsonCase("syntax error inside an event", `{"traceEvents":[{"ph":"X","ts":}]}`, converter.ErrMalformed),
		jsonCase("duplicate keys inside an event", `{"traceEvents":[{"ph":"X","ph":"X","name":"a","name":"b","ts":1,"ts":2,"dur":1,"pid":1,"tid":1,"cat":"cpu_op"}]}`, nil),
		jsonCase("bare NaN and Infinity", trace(event("dur", "NaN"), event("ts", "Infinity"), event("args", `{"x": -Infinity, "y": NaN, "z": nan, "w": inf}`)), nil),
		jsonCase("quoted NaN and Infinity", trace(event("dur", `"NaN"`), event("ts", `"Infinity"`), event("args", `{"x": "-Infinity", "y": "nan"}`)), nil),
		{name: "nesting 100,000 deep", gen: func(w io.Writer) error {
			if _, err := io.WriteString(w, `{"traceEvents":[{"ph":"X","ts":1,"dur":1,"name":"n","args":{"deep":`); err != nil {
				return err
			}
			if err := writeRepeat(w, '[', 100_000); err != nil {
				return err
			}
			if err := writeRepeat(w, ']', 100_000); err != nil {
				return err
			}
			_, err := io.WriteString(w, `}}]}`)
			return err
		}, want: converter.ErrMalformed},
		{name: "an event of 100 MB (one string arg)", big: true, gen: func(w io.Writer) error {
			if _, err := io.WriteString(w, `{"traceEvents":[`+event()+`,{"ph":"X","cat":"cpu_op","name":"big","pid":1,"tid":1,"ts":1700000000000001,"dur":1,"args":{"blob":"`); err != nil {
				return err
			}
			if err := writeRepeat(w, 'A', 100*mib); err != nil {
				return err
			}
			_, err := io.WriteString(w, `"}}]}`)
			return err
		}, want: nil},
		{name: "a name of 10 MB", big: true, gen: func(w io.Writer) error {
			if _, err := io.WriteString(w, `{"traceEvents":[`+event()+`,{"ph":"X","cat":"cpu_op","pid":1,"tid":1,"ts":1700000000000001,"dur":1,"name":"`); err != nil {
				return err
			}
			if err := writeRepeat(w, 'n', 10*mib); err != nil {
				return err
			}
			_, err := io.WriteString(w, `"}]}`)
			return err
		}, want: nil},
	}
	// Wrong types in every field of an event, and in every top-level key
	// the converter reads: each must convert or fail with a *converter.Error,
	// never panic. wantAny marks them.
	for _, field := range []string{"ph", "cat", "name", "pid", "tid", "ts", "dur", "args", "id", "bp", "s"} {
		for _, v := range []string{`null`, `true`, `-1`, `1e400`, `"x"`, `[]`, `[1,"a"]`, `{}`, `{"a":{"b":[]}}`} {
			cases = append(cases, jsonCase(fmt.Sprintf("wrong type: %s=%s", field, v), trace(event(field, v), event()), errAny))
		}
	}
	for _, key := range []string{"schemaVersion", "deviceProperties", "distributedInfo", "baseTimeNanoseconds", "displayTimeUnit", "traceName", "cuda_runtime_version"} {
		for _, v := range []string{`null`, `"x"`, `-5`, `[{"id":"a"}]`, `{"rank":"z"}`} {
			cases = append(cases, jsonCase(fmt.Sprintf("wrong type: top-level %s=%s", key, v), `{"`+key+`":`+v+`,"traceEvents":[`+event()+`]}`, errAny))
		}
	}
	for _, ev := range []string{`5`, `"s"`, `null`, `[]`, `{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":5}`, `{"ph":"M","name":"process_name","args":{"name":[1]}}`, `{"ph":"f","id":[],"bp":7}`, `{"ph":"s","id":{},"cat":"ac2g","ts":"z"}`, `{"ph":"X","cat":"kernel","args":{"correlation":"x","device":[],"stream":{}}}`} {
		cases = append(cases, jsonCase("wrong type: event "+ev, trace(ev, event()), errAny))
	}
	return cases
}

// errAny: the input may convert or fail, but a failure must be a
// *converter.Error naming a sentinel.
var errAny = errors.New("any converter error or none")

func checkConvertErr(t *testing.T, c badCase, err error) {
	t.Helper()
	switch {
	case c.want == errAny:
		if err == nil {
			return
		}
		var ce *converter.Error
		if !errors.As(err, &ce) || !(errors.Is(err, converter.ErrMalformed) || errors.Is(err, converter.ErrNotKineto) || errors.Is(err, converter.ErrTruncated)) {
			t.Fatalf("error %v (%T) is not a *converter.Error with a sentinel", err, err)
		}
	case c.want == nil:
		if err != nil {
			t.Fatalf("want a conversion, got %v", err)
		}
	default:
		if !errors.Is(err, c.want) {
			t.Fatalf("got %v, want %v", err, c.want)
		}
		var ce *converter.Error
		if !errors.As(err, &ce) || ce.Reason == "" {
			t.Fatalf("error %v has no *converter.Error with a reason", err)
		}
	}
}

// TestConvertBadInput feeds every hostile input to converter.Convert in this
// process: a clear typed error (or a conversion), never a panic, and for
// the large inputs a live heap far below the input size.
func TestConvertBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range badCases(t) {
		t.Run(c.name, func(t *testing.T) {
			var err error
			var spans int
			var maxAttr int
			fn := func() {
				pr, pw := io.Pipe()
				go func() {
					bw := bufio.NewWriterSize(pw, 1<<16)
					e := c.gen(bw)
					if e == nil {
						e = bw.Flush()
					}
					pw.CloseWithError(e)
				}()
				_, err = converter.Convert(context.Background(), pr, converter.DefaultOptions(), func(b *span.Batch) error {
					spans += len(b.Spans)
					for i := range b.Spans {
						maxAttr = max(maxAttr, len(b.Spans[i].Name))
						for _, a := range b.Spans[i].Attrs {
							maxAttr = max(maxAttr, len(a.Value.Str))
						}
					}
					return nil
				})
				pr.Close()
			}
			if !c.big {
				fn()
				checkConvertErr(t, c, err)
				return
			}
			if !longTests() {
				// Under -race an in-process 100 MB conversion takes half a
				// minute: measure the real binary's peak RSS instead.
				path := filepath.Join(t.TempDir(), traceName(1, false))
				writeCase(t, c, path)
				conv := startChild(t, []string{"convert", "-o", os.DevNull, path}, nil)
				if err := conv.Wait(); err != nil {
					t.Fatalf("convert: %v\n%s", err, testkit.Tail(conv.Output(), 2000))
				}
				peak := conv.PeakRSSKB()
				t.Logf("%s: `convert` exit 0, peak RSS (VmHWM) %.0f MiB", c.name, float64(peak)/1024)
				if peak > 1536*1024 {
					t.Errorf("peak RSS %d KiB over 1.5 GiB", peak)
				}
				return
			}
			peak := heapPeak(fn)
			checkConvertErr(t, c, err)
			t.Logf("%s: err=%v spans=%d largest string emitted=%d B, peak live heap +%.1f MiB", c.name, err, spans, maxAttr, float64(peak)/mib)
		})
	}
}
