package linker

import (
	"bufio"
	"io"

	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Test-only helpers over the H100 fixture in the repository's testdata/h100
// (and the step annotations of its larger window, here in testdata/): a
// tiny step extractor over the real traces (the converter's job, done here
// with encoding/json) and loaders for the three request sources.

// fixtureTraces are the paths of the two traces.
var fixtureTraces = []string{
	filepath.Join("testdata", "dp0_pp0_tp0_dcp0_ep0_rank0.1795789272497483694.annotations.pt.trace.json.gz"),
	fixturePath("dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz"),
}

// fixturePath is the path of one file of the shared H100 fixture.
func fixturePath(name string) string { return filepath.Join("..", "testdata", "h100", name) }

// parseTs converts a Kineto "ts" (µs with 3 decimals, relative) to ns.
func parseTs(s string) int64 {
	ip, frac, _ := strings.Cut(s, ".")
	v, err := strconv.ParseInt(ip, 10, 64)
	if err != nil {
		panic(err)
	}
	frac = (frac + "000")[:3]
	f, _ := strconv.ParseInt(frac, 10, 64)
	return v*1000 + f
}

// loadSteps extracts the engine steps of one trace file the way the
// converter does: each step annotation starts a step that lasts until the
// next one starts; the last lasts until its own end.
func loadSteps(t testing.TB, path string) []enginestep.Step {
	t.Helper()
	stepCache.Lock()
	defer stepCache.Unlock()
	if ss, ok := stepCache.m[path]; ok {
		return append([]enginestep.Step(nil), ss...)
	}
	ss := extractSteps(t, path)
	stepCache.m[path] = ss
	return append([]enginestep.Step(nil), ss...)
}

// stepCache keeps extracted steps for the test binary's lifetime (the
// real trace takes a while to tokenize under -race).
var stepCache = struct {
	sync.Mutex
	m map[string][]enginestep.Step
}{m: map[string][]enginestep.Step{}}

func extractSteps(t testing.TB, path string) []enginestep.Step {
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := readAnnotations(zr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	type ann struct {
		name       string
		a          enginestep.Annotation
		start, end int64
	}
	var anns []ann
	for _, e := range doc.events {
		if e.cat != "user_annotation" {
			continue
		}
		a, ok := enginestep.ParseAnnotation(e.name)
		if !ok {
			continue
		}
		st := doc.base + parseTs(e.ts)
		anns = append(anns, ann{e.name, a, st, st + parseTs(e.dur)})
	}
	sort.Slice(anns, func(i, j int) bool { return anns[i].start < anns[j].start })
	res := &span.Resource{Attrs: []span.Attr{span.String("vllm.trace.file", name)}}
	ids := span.NewIDSource([]byte(name))
	steps := make([]enginestep.Step, len(anns))
	for i, a := range anns {
		end := a.end
		if i+1 < len(anns) {
			end = anns[i+1].start
		}
		steps[i] = enginestep.Step{Index: i, Name: a.name, Annotation: a.a, Start: a.start, End: end,
			TraceID: ids.TraceID(uint64(i)), RootSpanID: ids.SpanID(uint64(i)), Resource: res}
	}
	return steps
}

// truthDoc is what the fixture's truth.json says: each step's span,
// kind and requests, each request's steps and prompt length.
type truthDoc struct {
	Requests []struct {
		ID           string `json:"id"`
		PromptTokens int64  `json:"prompt_tokens"`
		Steps        []int  `json:"steps"`
	} `json:"requests"`
	Steps []struct {
		Step     int      `json:"step"`
		Kind     string   `json:"kind"`
		Start    int64    `json:"start_ns"`
		End      int64    `json:"end_ns"`
		Requests []string `json:"requests"`
	} `json:"steps"`
}

func loadTruth(t testing.TB) truthDoc {
	t.Helper()
	b, err := os.ReadFile(fixturePath("truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d truthDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// truthFor returns the requests of the truth step that contains the
// step's start: the answer key, used for nothing else.
func (d truthDoc) truthFor(s enginestep.Step) ([]string, bool) {
	for _, ts := range d.Steps {
		if ts.Start <= s.Start && s.Start < ts.End {
			return ts.Requests, true
		}
	}
	return nil, false
}

type loader func(t testing.TB, tl *Timeline, filter func(vllmlog.Record) bool)

// fixtureLLMRequests decodes the fixture's llm_request spans.
func fixtureLLMRequests(t testing.TB) []vllmlog.LLMRequestSpan {
	t.Helper()
	f, err := os.Open(fixturePath("llm_request.otlp.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spans, err := vllmlog.DecodeOTLPJSON(f, vllmlog.OTLPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return spans
}

func loadOTLP(t testing.TB, tl *Timeline, _ func(vllmlog.Record) bool) {
	for _, s := range fixtureLLMRequests(t) {
		if err := tl.AddLLMRequestSpan(s.TraceID, s.SpanID, s.ParentSpanID, s.Start, s.End, s.Attrs); err != nil {
			t.Fatal(err)
		}
	}
}

func loadLines(t testing.TB, name string, parse func([]byte) (vllmlog.Record, error), add func(vllmlog.Record), filter func(vllmlog.Record) bool) {
	b, err := os.ReadFile(fixturePath(name))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		rec, err := parse(sc.Bytes())
		if errors.Is(err, vllmlog.ErrNotRequestLine) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if filter == nil || filter(rec) {
			add(rec)
		}
	}
}

func loadJSON(t testing.TB, tl *Timeline, filter func(vllmlog.Record) bool) {
	loadLines(t, "vllm.jsonl", func(b []byte) (vllmlog.Record, error) { return vllmlog.ParseJSONLine(b, vllmlog.JSONOptions{}) },
		func(r vllmlog.Record) { tl.AddLogRecord("vllm.jsonl", SourceJSONLog, r) }, filter)
}

func loadText(t testing.TB, tl *Timeline, filter func(vllmlog.Record) bool) {
	p := vllmlog.NewTextParser(vllmlog.TextOptions{Location: time.UTC, Reference: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)})
	loadLines(t, "vllm.log", func(b []byte) (vllmlog.Record, error) { return p.Parse(string(b)) },
		func(r vllmlog.Record) { tl.AddLogRecord("vllm.log", SourceTextLog, r) }, filter)
}

type score struct{ tp, predicted, truth, truthKnown int }

// recallKnown is recall over the requests the source knows at all (vLLM
// writes no llm_request span for a request that never finishes).
func (s score) recallKnown() float64 { return float64(s.tp) / float64(max(s.truthKnown, 1)) }

func (s score) precision() float64 { return float64(s.tp) / float64(max(s.predicted, 1)) }
func (s score) recall() float64    { return float64(s.tp) / float64(max(s.truth, 1)) }

func scorePairs(t testing.TB, d truthDoc, steps map[*span.Resource][]enginestep.Step, pairs []Pair, known func(string) bool) score {
	got := map[*span.Resource]map[int]map[string]bool{}
	for _, p := range pairs {
		if got[p.Resource] == nil {
			got[p.Resource] = map[int]map[string]bool{}
		}
		if got[p.Resource][p.StepIndex] == nil {
			got[p.Resource][p.StepIndex] = map[string]bool{}
		}
		got[p.Resource][p.StepIndex][p.RequestID] = true
	}
	var sc score
	for res, ss := range steps {
		for _, s := range ss {
			want, ok := d.truthFor(s)
			if !ok {
				t.Fatalf("step %d at %d not in truth", s.Index, s.Start)
			}
			g := got[res][s.Index]
			sc.predicted += len(g)
			sc.truth += len(want)
			for _, id := range want {
				if g[id] {
					sc.tp++
				}
				if known(id) {
					sc.truthKnown++
				}
			}
		}
	}
	return sc
}

type traceEvent struct{ cat, name, ts, dur string }

type traceDoc struct {
	base   int64
	events []traceEvent
}

// readAnnotations walks a Kineto trace with a streaming tokenizer, keeping
// cat, name, ts and dur (as decimal text) of user_annotation events.
func readAnnotations(r io.Reader) (traceDoc, error) {
	var doc traceDoc
	dec := jsontext.NewDecoder(r, jsontext.AllowDuplicateNames(true))
	if _, err := dec.ReadToken(); err != nil {
		return doc, err
	}
	for dec.PeekKind() != '}' {
		key, err := dec.ReadToken()
		if err != nil {
			return doc, err
		}
		switch key.String() {
		case "baseTimeNanoseconds":
			tok, err := dec.ReadToken()
			if err != nil {
				return doc, err
			}
			if doc.base, err = tok.Int(); err != nil {
				return doc, err
			}
		case "traceEvents":
			if _, err := dec.ReadToken(); err != nil {
				return doc, err
			}
			for dec.PeekKind() != ']' {
				if _, err := dec.ReadToken(); err != nil {
					return doc, err
				}
				var e traceEvent
				for dec.PeekKind() != '}' {
					k, err := dec.ReadToken()
					if err != nil {
						return doc, err
					}
					var dst *string
					switch k.String() {
					case "cat":
						dst = &e.cat
					case "name":
						dst = &e.name
					case "ts":
						dst = &e.ts
					case "dur":
						dst = &e.dur
					}
					if dst == nil {
						if err := dec.SkipValue(); err != nil {
							return doc, err
						}
						continue
					}
					v, err := dec.ReadValue()
					if err != nil {
						return doc, err
					}
					*dst = strings.Trim(string(v), `"`)
				}
				if _, err := dec.ReadToken(); err != nil {
					return doc, err
				}
				if e.cat == "user_annotation" {
					doc.events = append(doc.events, e)
				}
			}
			if _, err := dec.ReadToken(); err != nil {
				return doc, err
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return doc, err
			}
		}
	}
	return doc, nil
}
