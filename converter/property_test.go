package converter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/recstore"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// The property test: random Kineto traces, random in layout (whitespace,
// key order, numbers as numbers or strings, args from none to several KB,
// long names with escapes) and in size (event counts around the store
// stage's batches, the record chunks, the launch table chunks and the
// interner cache; JSON past the scanner's window and the read-ahead
// chunks), plain or gzip, read in odd sizes and with tiny record chunks
// and bucket tails, are converted and compared with a deliberately simple
// reference reader (encoding/json over the whole file): every event is
// accounted for, every span has its event's exact nanosecond times, every
// kernel hangs under its launch, every op under its innermost enclosing op
// (or its step's root).

// propEvent is one generated event, kept as the generator made it.
type propEvent struct {
	fields [][2]string // key, raw JSON value, in the order written
}

type propGen struct {
	rng    *rand.Rand
	evs    []propEvent
	cur    int64 // ns
	corr   int64
	target int
	layout propLayout
}

type propLayout struct {
	indent, spaceColon, spaceComma bool
	shuffleKeys, tsAsString        bool
	bigArgs                        bool
}

var propEscapes = []string{`\"`, `\\`, `\/`, `\n`, `\t`, `\u00e9`, `\u4e2d`, `\ud83d\ude00`, `é`, ` `, `::`, `<`, `>`, `(`, `)`}

// str returns a JSON string literal of about n bytes with escapes.
func (g *propGen) str(prefix string, n int) string {
	var b strings.Builder
	b.WriteByte('"')
	b.WriteString(prefix)
	for b.Len() < n {
		if g.rng.IntN(4) == 0 {
			b.WriteString(propEscapes[g.rng.IntN(len(propEscapes))])
		} else {
			b.WriteByte(byte('a' + g.rng.IntN(26)))
		}
	}
	b.WriteByte('"')
	return b.String()
}

// micros writes ns as Kineto does (µs with up to 3 decimals), as a number
// or, with tsAsString, sometimes as a string.
func (g *propGen) micros(ns int64) string {
	s := strconv.FormatInt(ns/1000, 10)
	frac := ns % 1000
	switch {
	case frac == 0 && g.rng.IntN(2) == 0:
	case frac%100 == 0 && g.rng.IntN(2) == 0:
		s += "." + strconv.FormatInt(frac/100, 10)
	default:
		s += fmt.Sprintf(".%03d", frac)
	}
	if g.layout.tsAsString && g.rng.IntN(3) == 0 {
		return `"` + s + `"`
	}
	return s
}

func (g *propGen) args(extra ...[2]string) string {
	fields := slices.Clone(extra)
	n := g.rng.IntN(4)
	if g.layout.bigArgs && g.rng.IntN(8) == 0 {
		n += 20
	}
	for k := range n {
		key := fmt.Sprintf(`"arg %d"`, k)
		var v string
		switch g.rng.IntN(5) {
		case 0:
			v = strconv.Itoa(g.rng.IntN(1 << 20))
		case 1:
			v = fmt.Sprintf("%d.%d", g.rng.IntN(100), g.rng.IntN(1000))
		case 2:
			v = `[1, 2, [3, 4], []]`
		case 3:
			v = `{"a": {"b": "c"}, "d": []}`
		default:
			size := 1 + g.rng.IntN(40)
			if g.layout.bigArgs {
				size = 1 + g.rng.IntN(3000)
			}
			v = g.str("", size)
		}
		fields = append(fields, [2]string{key, v})
	}
	return g.object(fields, "      ")
}

func (g *propGen) object(fields [][2]string, indent string) string {
	if g.layout.shuffleKeys {
		g.rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	}
	colon, comma := ":", ","
	if g.layout.spaceColon {
		colon = []string{": ", " : ", " :"}[g.rng.IntN(3)]
	}
	if g.layout.spaceComma {
		comma = []string{", ", " ,", " , "}[g.rng.IntN(3)]
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteString(comma)
		}
		if g.layout.indent {
			b.WriteString("\n" + indent)
		}
		b.WriteString(f[0] + colon + f[1])
	}
	if g.layout.indent && len(fields) > 0 {
		b.WriteString("\n" + indent[:len(indent)-2])
	}
	b.WriteByte('}')
	return b.String()
}

func (g *propGen) add(fields ...[2]string) { g.evs = append(g.evs, propEvent{fields: fields}) }

func (g *propGen) x(cat, name string, pid, tid int, ts, dur int64, args string) {
	f := [][2]string{{`"ph"`, `"X"`}, {`"cat"`, `"` + cat + `"`}, {`"name"`, name},
		{`"pid"`, strconv.Itoa(pid)}, {`"tid"`, strconv.Itoa(tid)}, {`"ts"`, g.micros(ts)}, {`"dur"`, g.micros(dur)}}
	if args != "" {
		f = append(f, [2]string{`"args"`, args})
	}
	g.add(f...)
}

func (g *propGen) gap() int64 { return 1000 + g.rng.Int64N(5000) }

// op writes a cpu_op with nested ops and kernel launches, starting after
// the cursor, and returns when it is closed.
func (g *propGen) op(depth int) {
	start := g.cur + g.gap()
	g.cur = start
	idx := len(g.evs)
	g.add() // placeholder, written once the end is known
	for len(g.evs) < g.target && g.rng.IntN(3) > 0 {
		if depth < 6 && g.rng.IntN(2) == 0 {
			g.op(depth + 1)
			continue
		}
		g.corr++
		ls := g.cur + g.gap()
		ld := g.gap()
		g.x("cuda_runtime", `"cudaLaunchKernel"`, 1, 1, ls, ld, g.args([2]string{`"correlation"`, strconv.FormatInt(g.corr, 10)}))
		if g.rng.IntN(2) == 0 {
			g.add([2]string{`"ph"`, `"s"`}, [2]string{`"cat"`, `"ac2g"`}, [2]string{`"id"`, strconv.FormatInt(g.corr, 10)},
				[2]string{`"pid"`, "1"}, [2]string{`"tid"`, "1"}, [2]string{`"ts"`, g.micros(ls)})
		}
		g.x("kernel", g.str("kernel_", 5+g.rng.IntN(60)), 0, 7, ls+ld+g.gap(), g.gap(),
			g.args([2]string{`"correlation"`, strconv.FormatInt(g.corr, 10)}, [2]string{`"device"`, "0"}, [2]string{`"stream"`, "7"}))
		g.cur = ls + ld
		if g.rng.IntN(8) == 0 {
			g.add([2]string{`"ph"`, `"i"`}, [2]string{`"cat"`, `"cpu_instant_event"`}, [2]string{`"name"`, `"[memory]"`},
				[2]string{`"pid"`, "1"}, [2]string{`"tid"`, "1"}, [2]string{`"ts"`, g.micros(g.cur + 1)}, [2]string{`"s"`, `"t"`},
				[2]string{`"args"`, `{"Bytes": 512, "Total Allocated": 1024}`})
		}
	}
	g.cur += g.gap()
	name := g.str("aten::", 3+g.rng.IntN(20))
	if g.rng.IntN(50) == 0 {
		name = g.str("aten::long", 5000)
	}
	saved := g.evs
	g.evs = nil
	g.x("cpu_op", name, 1, 1, start, g.cur-start, g.args())
	saved[idx] = g.evs[0]
	g.evs = saved
}

// propTrace generates one trace of about target events and returns its
// JSON.
func propTrace(seed uint64, target int) []byte {
	rng := rand.New(rand.NewPCG(seed, uint64(target)))
	g := &propGen{rng: rng, target: target, cur: 1_000_000_000 + rng.Int64N(1e9)}
	g.layout = propLayout{indent: rng.IntN(2) == 0, spaceColon: rng.IntN(2) == 0, spaceComma: rng.IntN(2) == 0,
		shuffleKeys: rng.IntN(2) == 0, tsAsString: rng.IntN(3) == 0, bigArgs: rng.IntN(3) == 0}
	g.add([2]string{`"ph"`, `"M"`}, [2]string{`"name"`, `"thread_name"`}, [2]string{`"pid"`, "1"}, [2]string{`"tid"`, "1"},
		[2]string{`"args"`, `{"name": "main"}`})
	steps := rng.IntN(4)
	for s := 0; s < steps || (steps == 0 && s == 0); s++ {
		start := g.cur + g.gap()
		g.cur = start
		idx := len(g.evs)
		if steps > 0 {
			g.add()
		}
		for len(g.evs) < g.target*(s+1)/max(steps, 1) {
			g.op(0)
		}
		g.cur += g.gap()
		if steps > 0 {
			saved := g.evs
			g.evs = nil
			g.x("user_annotation", fmt.Sprintf(`"execute_context_1(%d)_generation_0(0)"`, 5+s), 1, 1, start, g.cur-start, "")
			saved[idx] = g.evs[0]
			g.evs = saved
		}
	}
	g.x("Trace", `"PyTorch Profiler (0)"`, 1, 0, 1_000_000_000, g.cur, "")
	// Kineto writes in roughly time order; the converter must not need it.
	if rng.IntN(2) == 0 {
		rng.Shuffle(len(g.evs), func(i, j int) { g.evs[i], g.evs[j] = g.evs[j], g.evs[i] })
	}
	var b bytes.Buffer
	top := []string{`"schemaVersion": 1`, `"baseTimeNanoseconds": 1700000000000000000`, `"traceName": "x"`}
	rng.Shuffle(len(top), func(i, j int) { top[i], top[j] = top[j], top[i] })
	b.WriteString("{\n  " + strings.Join(top, ",\n  ") + ",\n  \"traceEvents\": [")
	for i, e := range g.evs {
		if i > 0 {
			b.WriteString(",")
		}
		if g.layout.indent {
			b.WriteString("\n  ")
		}
		b.WriteString(g.object(slices.Clone(e.fields), "      "))
	}
	b.WriteString("\n  ]\n}\n")
	return b.Bytes()
}

// propRef is an event as the reference reads it.
type propRef struct {
	Ph, Cat  string
	Name     string
	Pid, Tid json.Number
	Ts, Dur  any
	Args     map[string]any
}

// refNs converts a µs value (number or string) to ns exactly.
func refNs(t *testing.T, v any) int64 {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = x
	default:
		t.Fatalf("ts/dur %v (%T)", v, v)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("ts %q", s)
	}
	r.Mul(r, big.NewRat(1000, 1))
	if !r.IsInt() {
		t.Fatalf("ts %q is not a whole number of ns", s)
	}
	return r.Num().Int64()
}

// checkProperty converts data and compares it with the reference.
func checkProperty(t *testing.T, plain []byte, gz bool, tune tuning) {
	t.Helper()
	var doc struct {
		BaseTimeNanoseconds int64
		TraceEvents         []json.RawMessage
	}
	if err := json.Unmarshal(plain, &doc); err != nil {
		t.Fatalf("the generator wrote invalid JSON: %v", err)
	}
	evs := make([]propRef, len(doc.TraceEvents))
	for i, raw := range doc.TraceEvents {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	input := plain
	if gz {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, 1+len(plain)%9)
		w.Write(plain)
		w.Close()
		input = b.Bytes()
	}
	c := &collected{}
	opts := DefaultOptions()
	opts.MaxSpansPerTrace = 0
	opts.BatchSize = 1 + len(plain)%700
	st, err := convert(context.Background(), bytes.NewReader(input), opts, c.emit, tune)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	checkBooks(t, st)

	ids := fileIDs(plain[:min(len(plain), seedPrefix)], opts.identity())
	byID := map[span.SpanID]*span.Span{}
	for i := range c.spans {
		s := &c.spans[i]
		if byID[s.SpanID] != nil {
			t.Fatalf("span ID %s twice", s.SpanID)
		}
		byID[s.SpanID] = s
	}
	// The reference: what each event must become.
	wantRead := map[string]int64{}
	wantSpans := map[string]int64{}
	type cpuEv struct {
		i        int
		ts, end  int64
		isStep   bool
		children int
	}
	var cpu []cpuEv
	launchOf := map[string]int{}
	for i, e := range evs {
		wantRead[e.Cat]++
		if e.Ph != "X" || e.Cat == "Trace" {
			continue
		}
		wantSpans[e.Cat]++
		ts := refNs(t, e.Ts)
		end := ts + refNs(t, e.Dur)
		s := byID[ids.SpanID(uint64(i))]
		if s == nil {
			t.Fatalf("event %d (%s %q at %d ns) has no span", i, e.Cat, e.Name, ts)
		}
		if e.Cat == "user_annotation" {
			// The step annotation is the rank span, under the step's root.
			root := byID[s.Parent]
			if s.Start != doc.BaseTimeNanoseconds+ts || s.Name != RankStepSpanName || root == nil || !root.Parent.IsZero() || root.Start != s.Start {
				t.Errorf("step %d: %s start %d parent %s, want %s at %d under a step root", i, s.Name, s.Start, s.Parent, RankStepSpanName, doc.BaseTimeNanoseconds+ts)
			}
		} else if s.Start != doc.BaseTimeNanoseconds+ts || s.End != doc.BaseTimeNanoseconds+end {
			t.Errorf("event %d (%s %q): span [%d, %d], want [%d, %d]", i, e.Cat, e.Name, s.Start, s.End,
				doc.BaseTimeNanoseconds+ts, doc.BaseTimeNanoseconds+end)
		}
		if e.Cat != "kernel" && e.Cat != "user_annotation" && s.Name != e.Name {
			t.Errorf("event %d: span name %q, want %q", i, s.Name, e.Name)
		}
		if v, ok := span.Lookup(s.Attrs, "kineto.category"); e.Cat != "user_annotation" && (!ok || v.Str != e.Cat) {
			t.Errorf("event %d: kineto.category %v, want %q", i, v, e.Cat)
		}
		switch e.Cat {
		case "cuda_runtime":
			launchOf[fmt.Sprint(e.Args["correlation"])] = i
			fallthrough
		case "cpu_op", "user_annotation":
			cpu = append(cpu, cpuEv{i: i, ts: ts, end: end, isStep: e.Cat == "user_annotation"})
		}
	}
	// Kernels hang under the launch with their correlation id.
	for i, e := range evs {
		if e.Cat != "kernel" {
			continue
		}
		l, ok := launchOf[fmt.Sprint(e.Args["correlation"])]
		if s := byID[ids.SpanID(uint64(i))]; !ok || s.Parent != ids.SpanID(uint64(l)) {
			t.Errorf("kernel %d is not under its launch %d", i, l)
		}
	}
	// Ops nest by time on their thread (one here): the parent is the
	// innermost enclosing op, else the step's root, else the profile root.
	slices.SortFunc(cpu, func(a, b cpuEv) int {
		if a.ts != b.ts {
			return int(a.ts - b.ts)
		}
		return int(b.end - a.end)
	})
	var stack []cpuEv
	profileRoot := ids.SpanID(profileKey)
	for _, e := range cpu {
		for len(stack) > 0 && stack[len(stack)-1].end <= e.ts {
			stack = stack[:len(stack)-1]
		}
		want := profileRoot
		if len(stack) > 0 {
			want = ids.SpanID(uint64(stack[len(stack)-1].i))
		}
		if !e.isStep {
			if s := byID[ids.SpanID(uint64(e.i))]; s.Parent != want {
				t.Errorf("event %d (%q): parent %s, want %s", e.i, evs[e.i].Name, s.Parent, want)
			}
		}
		stack = append(stack, e)
	}
	// Every event accounted for, per category, as the reference counts.
	for cat, n := range wantRead {
		if b := st.Books[cat]; b.Read != n || b.Spans != wantSpans[cat] {
			t.Errorf("category %q: read %d, spans %d; the reference reads %d and wants %d spans", cat, b.Read, b.Spans, n, wantSpans[cat])
		}
	}
	if int64(len(evs)) != st.Events {
		t.Errorf("%d events read, the reference has %d", st.Events, len(evs))
	}
	var spans int64
	for _, n := range wantSpans {
		spans += n
	}
	// Every event's span, the profile root and one root per step.
	if steps := int64(st.Steps); spans+1+steps != int64(len(c.spans)) || steps != wantSpans["user_annotation"] {
		t.Errorf("%d spans, %d steps; want %d and %d", len(c.spans), steps, spans+1+steps, wantSpans["user_annotation"])
	}
}

// propSizes are the event counts tried: small ones and every internal
// batch, chunk and cache size, one below and one above.
var propSizes = []int{1, 2, 5, 17, 100,
	internCache - 1, internCache, internCache + 1, // the interner's cache; also evBatchLen
	launchChunk - 1, launchChunk, launchChunk + 1,
	recstore.DefaultChunk - 1, recstore.DefaultChunk, recstore.DefaultChunk + 1}

func propTuning(rng *rand.Rand) tuning {
	var tu tuning
	if rng.IntN(2) == 0 {
		tu.recordChunk = 1 + rng.IntN(64)
		tu.tailCap = 1 + rng.IntN(8)
		tu.gather = rng.IntN(3) * 64
	}
	if rng.IntN(3) > 0 {
		tu.readMax = 1 + rng.IntN(5000)
	}
	return tu
}

func runProperty(t *testing.T, seed uint64, sizeSel uint8) {
	size := propSizes[int(sizeSel)%len(propSizes)]
	rng := rand.New(rand.NewPCG(seed, 7))
	if size < 200 {
		size += rng.IntN(200)
	}
	plain := propTrace(seed, size)
	checkProperty(t, plain, rng.IntN(2) == 0, propTuning(rng))
}

func TestConvertProperty(t *testing.T) {
	n := 3
	if testing.Short() || raceEnabled {
		n = 1
	}
	for k := range n {
		for sel := range propSizes {
			if raceEnabled && propSizes[sel] > launchChunk+1 {
				continue // 10x slower under -race; the fuzz step runs these seeds without it
			}
			seed := uint64(k*100 + sel)
			t.Run(fmt.Sprintf("seed%d_size%d", seed, propSizes[sel]), func(t *testing.T) {
				runProperty(t, seed, uint8(sel))
			})
		}
	}
}

// FuzzConvertProperty: go test -fuzz=FuzzConvertProperty ./converter
func FuzzConvertProperty(f *testing.F) {
	for sel := range propSizes {
		f.Add(uint64(sel), uint8(sel))
	}
	f.Fuzz(func(t *testing.T, seed uint64, sizeSel uint8) {
		runProperty(t, seed, sizeSel)
	})
}
