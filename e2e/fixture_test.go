//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// The fixture is a real H100 trace of one profiling window (30 engine steps,
// 140..169) of a vLLM-shaped serving loop, the vLLM logs of the whole run,
// the llm_request spans vLLM would have exported, and truth.json: what the
// serving loop knows about every request and step.
const (
	fixtureTrace    = "../testdata/h100/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz"
	fixtureTraceNS  = "1795789278257156267" // the <ns> part of its file name
	fixtureJSONLog  = "../testdata/h100/vllm.jsonl"
	fixtureTextLog  = "../testdata/h100/vllm.log"
	fixtureSpans    = "../testdata/h100/llm_request.otlp.json"
	fixtureTruth    = "../testdata/h100/truth.json"
	fixtureGPU      = "NVIDIA H100 80GB HBM3"
	fixtureSteps    = 30 // step annotations in the trace
	fixtureBaseTime = int64(1790857026000000000)
)

type truthRequest struct {
	ID          string  `json:"id"`
	InternalID  string  `json:"internal_id"`
	ArrivalNS   int64   `json:"arrival_ns"`
	ScheduledNS int64   `json:"scheduled_ns"`
	FirstToken  int64   `json:"first_token_ns"`
	FinishNS    int64   `json:"finish_ns"`
	Steps       []int   `json:"steps"`
	Prompt      int     `json:"prompt_tokens"`
	Output      int     `json:"output_tokens"`
	Temperature float64 `json:"temperature"`
}

type truthStep struct {
	Step     int      `json:"step"`
	Kind     string   `json:"kind"`
	StartNS  int64    `json:"start_ns"`
	EndNS    int64    `json:"end_ns"`
	Requests []string `json:"requests"`
	Profiled bool     `json:"profiled"`
}

type truthWindow struct {
	StartStep int   `json:"start_step"`
	StartNS   int64 `json:"start_ns"`
	StopStep  int   `json:"stop_step"`
	StopNS    int64 `json:"stop_ns"`
}

type truth struct {
	Requests []truthRequest `json:"requests"`
	Steps    []truthStep    `json:"steps"`
	Windows  []truthWindow  `json:"windows"`
	Device   string         `json:"device"`
}

func loadTruth(t *testing.T) *truth {
	t.Helper()
	b, err := os.ReadFile(fixtureTruth)
	if err != nil {
		t.Fatalf("read truth: %v", err)
	}
	var tr truth
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("decode %s: %v", fixtureTruth, err)
	}
	return &tr
}

// window returns the profiling window the bundled trace recorded.
func (tr *truth) window() truthWindow { return tr.Windows[len(tr.Windows)-1] }

// profiledSteps returns the steps inside the bundled trace's window.
func (tr *truth) profiledSteps() []truthStep {
	w := tr.window()
	var out []truthStep
	for _, s := range tr.Steps {
		if s.Step >= w.StartStep && s.Step < w.StopStep {
			out = append(out, s)
		}
	}
	return out
}

// stepAt returns the profiled step whose start is nearest to ns (within
// maxSkew), shifted by delta. vLLM's step annotation starts a few tens of µs
// after the scheduler's step start that truth.json records.
func (tr *truth) stepAt(ns, delta int64, maxSkew time.Duration) (truthStep, bool) {
	best, bestD := truthStep{}, int64(math.MaxInt64)
	for _, s := range tr.profiledSteps() {
		d := ns - (s.StartNS + delta)
		if d < 0 {
			d = -d
		}
		if d < bestD {
			best, bestD = s, d
		}
	}
	return best, bestD <= int64(maxSkew)
}

// linkExpectation is which profiled steps a request must and may be linked
// to.
type linkExpectation struct {
	Must []int        // steps the request took part in (truth.json)
	May  map[int]bool // steps no linker can rule out from vLLM's own data
}

// expectedLinks returns, for every request served in the profiled window,
// the profiled steps it took part in (Must) and the steps a correct linker
// may add because they start while the request waits in the queue
// (arrival..scheduled: only the scheduler knows it was not running) or just
// after its last step (finish..finish+slack: llm_request ends and "Generated
// response" is logged a little after the engine's last step).
func (tr *truth) expectedLinks(slack time.Duration) map[string]linkExpectation {
	steps := tr.profiledSteps()
	inWindow := map[int]bool{}
	for _, s := range steps {
		inWindow[s.Step] = true
	}
	out := map[string]linkExpectation{}
	for _, r := range tr.Requests {
		if r.FinishNS == 0 {
			continue // never finished: no llm_request span, no end in the log
		}
		e := linkExpectation{May: map[int]bool{}}
		for _, s := range r.Steps {
			if inWindow[s] {
				e.Must = append(e.Must, s)
			}
		}
		if len(e.Must) == 0 {
			continue
		}
		sort.Ints(e.Must)
		for _, ps := range steps {
			inQueue := r.ScheduledNS > 0 && ps.StartNS >= r.ArrivalNS && ps.StartNS < r.ScheduledNS
			inTail := ps.StartNS >= r.FinishNS && ps.StartNS <= r.FinishNS+int64(slack)
			if inQueue || inTail {
				e.May[ps.Step] = true
			}
		}
		out[r.ID] = e
	}
	return out
}

// unfinished reports whether request id is known and never finished.
func (tr *truth) unfinished(id string) bool {
	for _, r := range tr.Requests {
		if r.ID == id {
			return r.FinishNS == 0
		}
	}
	return false
}

// finishedOutsideWindow reports whether request id finished and took part in
// no profiled step.
func (tr *truth) finishedOutsideWindow(id string) bool {
	_, in := tr.expectedLinks(0)[id]
	for _, r := range tr.Requests {
		if r.ID == id {
			return r.FinishNS != 0 && !in
		}
	}
	return false
}

// check compares the steps a request was linked to with the expectation.
func (e linkExpectation) check(linked []int) error {
	got := map[int]bool{}
	for _, s := range linked {
		if got[s] {
			return fmt.Errorf("step %d linked twice", s)
		}
		got[s] = true
	}
	var missing, extra []int
	for _, s := range e.Must {
		if !got[s] {
			missing = append(missing, s)
		}
		delete(got, s)
	}
	for s := range got {
		if !e.May[s] {
			extra = append(extra, s)
		}
	}
	sort.Ints(extra)
	if len(missing) > 0 || len(extra) > 0 {
		return fmt.Errorf("linked steps %v: missing %v, wrongly linked %v (must %v)", linked, missing, extra, e.Must)
	}
	return nil
}

// shiftedFixture is a private copy of the fixture moved in time so that its
// window ends about a minute before now: every run of a test gets new trace
// content (hence new deterministic ids), a time range of its own in Jaeger,
// and timestamps as fresh as a live vLLM's.
type shiftedFixture struct {
	Delta     int64  // ns added to every fixture time
	TraceGZ   []byte // the trace, re-compressed
	TraceName string // vLLM-style file name with a fresh <ns>
	JSONLog   []byte // vllm.jsonl, shifted
	Spans     []byte // llm_request.otlp.json, shifted, with fresh trace ids
	TraceIDs  map[string]string
	Start     time.Time // window start, shifted
	End       time.Time // window end, shifted
}

// loadShiftedFixture is the setup most tests start with: the fixture's
// truth and one fresh shifted copy of the fixture.
func loadShiftedFixture(t *testing.T) (*truth, *shiftedFixture) {
	t.Helper()
	tr := loadTruth(t)
	return tr, newShiftedFixture(t, tr)
}

func newShiftedFixture(t *testing.T, tr *truth) *shiftedFixture {
	t.Helper()
	w := tr.window()
	// Whole microseconds keep ts = base + µs exact; a random sub-second
	// part keeps two runs in the same second apart.
	jitter := time.Duration(randUint64()%1_000_000) * time.Microsecond
	target := time.Now().Add(-90*time.Second - jitter).UnixNano()
	delta := (target - w.StartNS) / 1000 * 1000
	f := &shiftedFixture{
		Delta: delta,
		Start: time.Unix(0, w.StartNS+delta),
		End:   time.Unix(0, w.StopNS+delta),
	}
	ns, _ := strconv.ParseInt(fixtureTraceNS, 10, 64)
	f.TraceName = fmt.Sprintf("dp0_pp0_tp0_dcp0_ep0_rank0.%d.pt.trace.json.gz", ns+delta)
	f.TraceGZ = shiftTrace(t, fixtureTrace, delta)
	var err error
	if f.JSONLog, err = shiftJSONLog(fixtureJSONLog, delta); err != nil {
		t.Fatal(err)
	}
	if f.Spans, f.TraceIDs, err = shiftSpans(fixtureSpans, delta); err != nil {
		t.Fatal(err)
	}
	return f
}

// WriteTrace writes the shifted trace into dir under its vLLM-style name.
func (f *shiftedFixture) WriteTrace(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, f.TraceName)
	if err := os.WriteFile(p, f.TraceGZ, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func randUint64() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// shiftTrace moves a Kineto trace by delta ns: every ts is relative to
// baseTimeNanoseconds, so rewriting that one key moves all events. It also
// gives the copy a fresh Kineto trace_id, as a new profile would have.
func shiftTrace(t *testing.T, path string, delta int64) []byte {
	t.Helper()
	js := testkit.Gunzip(t, testkit.ReadFile(t, path))
	oldBase := fmt.Sprintf(`"baseTimeNanoseconds": %d,`, fixtureBaseTime)
	if bytes.Count(js, []byte(oldBase)) != 1 {
		t.Fatalf("%s: %q not found exactly once", path, oldBase)
	}
	js = bytes.Replace(js, []byte(oldBase), fmt.Appendf(nil, `"baseTimeNanoseconds": %d,`, fixtureBaseTime+delta), 1)
	const oldID = `"trace_id": "F358B4A54B7F45E88EEC1302EBCB3380"`
	if bytes.Count(js, []byte(oldID)) != 1 {
		t.Fatalf("%s: %q not found exactly once", path, oldID)
	}
	js = bytes.Replace(js, []byte(oldID), []byte(`"trace_id": "`+strings.ToUpper(randHex(16))+`"`), 1)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := zw.Write(js); err != nil {
		t.Fatalf("gzip %s: %v", path, err)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("gzip %s: %v", path, err)
	}
	return buf.Bytes()
}

// shiftJSONLog moves every record of a python-json-logger file by delta:
// "created" (epoch seconds) and "asctime" (local time, ms).
func shiftJSONLog(path string, delta int64) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for i, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var rec map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		created, err := rec["created"].(json.Number).Float64()
		if err != nil {
			return nil, fmt.Errorf("%s:%d: created: %w", path, i+1, err)
		}
		sec, frac := math.Modf(created)
		ns := int64(sec)*1e9 + int64(math.Round(frac*1e9)) + delta
		rec["created"] = json.Number(strconv.FormatFloat(float64(ns)/1e9, 'f', 7, 64))
		ts := time.Unix(0, ns).Local()
		rec["asctime"] = ts.Format("2006-01-02 15:04:05") + fmt.Sprintf(",%03d", ts.Nanosecond()/1e6)
		b, err := marshalOrdered(rec, []string{"created", "asctime", "levelname", "name", "message"})
		if err != nil {
			return nil, err
		}
		out.Write(b)
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// marshalOrdered writes a flat JSON object with the given keys first, as
// python-json-logger does.
func marshalOrdered(m map[string]any, first []string) ([]byte, error) {
	var keys []string
	seen := map[string]bool{}
	for _, k := range first {
		if _, ok := m[k]; ok {
			keys = append(keys, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	keys = append(keys, rest...)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(m[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteString(": ")
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// shiftSpans moves the fixture's OTLP/JSON spans by delta and gives every
// trace a fresh random trace id (consistently, so parent/child pairs stay in
// one trace). It returns the document and the old→new trace id map.
func shiftSpans(path string, delta int64) ([]byte, map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	ids := map[string]string{}
	for _, rs := range doc["resourceSpans"].([]any) {
		for _, ss := range rs.(map[string]any)["scopeSpans"].([]any) {
			for _, sp := range ss.(map[string]any)["spans"].([]any) {
				s := sp.(map[string]any)
				old := s["traceId"].(string)
				if ids[old] == "" {
					ids[old] = randHex(16)
				}
				s["traceId"] = ids[old]
				for _, k := range []string{"startTimeUnixNano", "endTimeUnixNano"} {
					v, err := strconv.ParseInt(fmt.Sprint(s[k]), 10, 64)
					if err != nil {
						return nil, nil, fmt.Errorf("%s: span %v %s: %w", path, s["spanId"], k, err)
					}
					s[k] = strconv.FormatInt(v+delta, 10)
				}
			}
		}
	}
	b, err := json.Marshal(doc)
	return b, ids, err
}
