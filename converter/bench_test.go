package converter

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/jsonscan"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func benchConvert(b *testing.B, data []byte, jsonBytes int, opts Options) {
	b.Helper()
	b.SetBytes(int64(jsonBytes))
	b.ReportAllocs()
	runtime.GC()
	base := heapBytes()
	stop, peak := sampleHeap()
	b.ResetTimer()
	var st Stats
	var err error
	for i := 0; i < b.N; i++ {
		st, err = Convert(context.Background(), bytes.NewReader(data), opts, func(*span.Batch) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64(*peak-base)/(1<<20), "peakHeapMB")
	b.ReportMetric(float64(st.SpansEmitted), "spans/op")
	b.ReportMetric(float64(st.Events), "events/op")
	b.ReportMetric(float64(st.RecordBytes), "B/record")
	b.ReportMetric(float64(st.ArgBytes)/float64(max(1, st.Records)), "argB/record")
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// sampleHeap samples live heap bytes every 2 ms until stop is called.
func sampleHeap() (stop func(), peak *uint64) {
	peak = new(uint64)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapBytes(); h > *peak {
				*peak = h
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-exited }, peak
}

// BenchmarkConvert converts the 1.9 MB gz (40 MB JSON) H100 fixture; MB/s
// is of decompressed JSON.
func BenchmarkConvert(b *testing.B) {
	raw := readFile(b, h100Fixture)
	benchConvert(b, raw, len(plainJSON(b, raw)), DefaultOptions())
}

// BenchmarkConvertPlain converts the same trace uncompressed.
func BenchmarkConvertPlain(b *testing.B) {
	plain := plainJSON(b, readFile(b, h100Fixture))
	benchConvert(b, plain, len(plain), DefaultOptions())
}

// BenchmarkGunzip is the physical floor: inflating the fixture alone.
func BenchmarkGunzip(b *testing.B) {
	raw := readFile(b, h100Fixture)
	benchGunzip(b, raw, len(plainJSON(b, raw)))
}

// benchGunzip inflates gz (jsonBytes when inflated) b.N times.
func benchGunzip(b *testing.B, gz []byte, jsonBytes int) {
	b.SetBytes(int64(jsonBytes))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, zr); err != nil {
			b.Fatal(err)
		}
	}
}

var synth struct {
	once      sync.Once
	gz        []byte
	jsonBytes int
}

// synthetic builds a larger trace by repeating the fixture's events with
// timestamps shifted past the previous copy and correlation / External ids
// / flow ids offset, so every copy links only within itself.
func synthetic(b *testing.B, copies int) ([]byte, int) {
	synth.once.Do(func() {
		plain := plainJSON(b, readFile(b, h100Fixture))
		start := bytes.Index(plain, []byte(`"traceEvents": [`)) + len(`"traceEvents": [`)
		end := bytes.LastIndex(plain, []byte("]"))
		head, events, tail := plain[:start], bytes.TrimSpace(plain[start:end]), plain[end:]
		tsRe := regexp.MustCompile(`"ts": (\d+)\.`)
		idRe := regexp.MustCompile(`("(?:correlation|External id|id)": )(\d+)`)
		var out bytes.Buffer
		out.Write(head)
		for c := 0; c < copies; c++ {
			shift := int64(c) * 1_000_000 // µs: each copy one second later
			ev := tsRe.ReplaceAllFunc(events, func(m []byte) []byte {
				n, _ := strconv.ParseInt(string(m[7:len(m)-1]), 10, 64)
				return []byte(`"ts": ` + strconv.FormatInt(n+shift, 10) + ".")
			})
			ev = idRe.ReplaceAllFunc(ev, func(m []byte) []byte {
				sm := idRe.FindSubmatch(m)
				n, _ := strconv.ParseInt(string(sm[2]), 10, 64)
				return append(append([]byte{}, sm[1]...), strconv.FormatInt(n+int64(c)*10_000_000, 10)...)
			})
			if c > 0 {
				out.WriteString(",\n")
			}
			out.Write(ev)
		}
		out.Write(tail)
		synth.jsonBytes = out.Len()
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
		w.Write(out.Bytes())
		w.Close()
		synth.gz = z.Bytes()
	})
	return synth.gz, synth.jsonBytes
}

// BenchmarkConvertSynthetic converts a 6x copy of the fixture (~240 MB
// JSON, ~610k events) from gzip.
func BenchmarkConvertSynthetic(b *testing.B) {
	data, n := synthetic(b, 6)
	benchConvert(b, data, n, DefaultOptions())
}

func BenchmarkGunzipSynthetic(b *testing.B) {
	data, n := synthetic(b, 6)
	benchGunzip(b, data, n)
}

// parseOnly reads data the way Convert does (read-ahead goroutine, the
// scanner, the store stage) and stops before structure resolution.
func parseOnly(tb testing.TB, data []byte) *parser {
	ra := jsonscan.StartReadAhead(bytes.NewReader(data))
	defer ra.Close()
	var st Stats
	p := newParser(context.Background(), ra, &st)
	if err := p.run(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkParse is the reader alone: read-ahead, the scanner validating
// and extracting each event, and the store stage filling the record store,
// on the plain fixture.
func BenchmarkParse(b *testing.B) {
	plain := plainJSON(b, readFile(b, h100Fixture))
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		parseOnly(b, plain)
	}
}

// BenchmarkBuild is the span builder alone: structure resolution, the cap
// and span building for every trace of the parsed fixture, with a no-op
// emit (bytes/s are of the fixture's JSON for comparison with Parse).
func BenchmarkBuild(b *testing.B) {
	plain := plainJSON(b, readFile(b, h100Fixture))
	p := parseOnly(b, plain)
	ids := fileIDs(plain[:seedPrefix], nil)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	b.ResetTimer()
	var spans int64
	for i := 0; i < b.N; i++ {
		var st Stats
		bl := newBuilder(p, DefaultOptions(), ids, &st)
		bl.findSteps()
		bl.resolve()
		if err := bl.emitAll(context.Background(), func(*span.Batch) error { return nil }); err != nil {
			b.Fatal(err)
		}
		spans = st.SpansEmitted
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*spans), "ns/span")
}
