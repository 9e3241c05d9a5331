//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// The harness's own logic, checked on literals so that a test that passes
// against the bridge means what it says.

func TestSpanDiffNoticesEveryField(t *testing.T) {
	base := func() *Span {
		return &Span{TraceID: "t", SpanID: "s", Parent: "p", Name: "n", Kind: "1", Start: 1, End: 2,
			Attrs: map[string]any{"a": int64(1)}, Resource: map[string]any{"service.name": "x"},
			Links: []Link{{TraceID: "t2", SpanID: "s2", Attrs: map[string]any{}}}, Events: []string{"e"}, StatusCode: "0"}
	}
	if d := spanDiff(base(), base()); d != "" {
		t.Fatalf("equal spans differ: %s", d)
	}
	for name, mutate := range map[string]func(*Span){
		"parent":    func(s *Span) { s.Parent = "q" },
		"name":      func(s *Span) { s.Name = "m" },
		"kind":      func(s *Span) { s.Kind = "2" },
		"start":     func(s *Span) { s.Start = 0 },
		"end":       func(s *Span) { s.End = 3 },
		"attr":      func(s *Span) { s.Attrs["a"] = float64(1) },
		"attr gone": func(s *Span) { delete(s.Attrs, "a") },
		"resource":  func(s *Span) { s.Resource["service.name"] = "y" },
		"link":      func(s *Span) { s.Links[0].SpanID = "s3" },
		"no link":   func(s *Span) { s.Links = nil },
		"event":     func(s *Span) { s.Events = nil },
		"status":    func(s *Span) { s.StatusCode = "2" },
	} {
		s := base()
		mutate(s)
		if spanDiff(base(), s) == "" {
			t.Errorf("%s: change not noticed", name)
		}
	}
}

func TestDecodeOTLPJSONLines(t *testing.T) {
	in := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}},{"key":"vllm.rank","value":{"intValue":"3"}}]},` +
		`"scopeSpans":[{"scope":{"name":"sc"},"spans":[{"traceId":"0102","spanId":"aa","name":"root","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"10","endTimeUnixNano":20,` +
		`"attributes":[{"key":"d","value":{"doubleValue":1.5}},{"key":"b","value":{"boolValue":true}},{"key":"l","value":{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"x"}]}}}],` +
		`"links":[{"traceId":"0304","spanId":"bb"}],"status":{"code":"STATUS_CODE_ERROR"}}]}]}]}` + "\n\n" +
		`{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{},"spans":[{"traceId":"0102","spanId":"cc","parentSpanId":"aa","name":"child","kind":1,"startTimeUnixNano":"11","endTimeUnixNano":"12"},` +
		`{"traceId":"0102","spanId":"cc","parentSpanId":"aa","name":"dup","kind":1}]}]}]}` + "\n"
	spans, err := decodeOTLPJSONLines(strings.NewReader(in), "literal")
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	r := spans[0]
	if r.Kind != "2" || r.StatusCode != "2" || r.Start != 10 || r.End != 20 || r.ServiceName() != "svc" || r.Scope != "sc" {
		t.Errorf("root decoded as %+v", r)
	}
	if n, ok := intAttr(r.Resource, "vllm.rank"); !ok || n != 3 {
		t.Errorf("vllm.rank %v", r.Resource["vllm.rank"])
	}
	if r.Attrs["d"] != 1.5 || r.Attrs["b"] != true || fmt.Sprint(r.Attrs["l"]) != "[1 x]" {
		t.Errorf("attributes %v", r.Attrs)
	}
	if len(r.Links) != 1 || r.Links[0].TraceID != "0304" {
		t.Errorf("links %v", r.Links)
	}
	trc := groupTraces(spans)["0102"]
	if len(trc.Spans) != 2 || trc.Spans["cc"].Name != "child" {
		t.Errorf("grouping kept %d spans (want 2, first of a repeated id)", len(trc.Spans))
	}
	if roots := trc.Roots(); len(roots) != 1 || roots[0].SpanID != "aa" || len(trc.Orphans()) != 0 {
		t.Errorf("roots %v orphans %v", roots, trc.Orphans())
	}
	if _, err := decodeOTLPJSONLines(strings.NewReader("{not json\n"), "bad"); err == nil {
		t.Error("malformed line accepted")
	}
}

func TestLinkExpectation(t *testing.T) {
	e := linkExpectation{Must: []int{3, 4, 5}, May: map[int]bool{2: true, 6: true}}
	for _, c := range []struct {
		linked []int
		ok     bool
	}{
		{[]int{3, 4, 5}, true},
		{[]int{2, 3, 4, 5, 6}, true},
		{[]int{3, 5}, false},       // missing 4
		{[]int{3, 4, 5, 7}, false}, // 7 is wrong
		{[]int{3, 4, 4, 5}, false}, // twice
	} {
		if err := e.check(c.linked); (err == nil) != c.ok {
			t.Errorf("check(%v) = %v, want ok=%v", c.linked, err, c.ok)
		}
	}
}

// TestFixtureExpectations pins what truth.json says about the bundled
// window, so a changed fixture cannot silently weaken the other tests.
func TestFixtureExpectations(t *testing.T) {
	tr := loadTruth(t)
	if n := len(tr.profiledSteps()); n != fixtureSteps {
		t.Fatalf("%d profiled steps in the window, want %d", n, fixtureSteps)
	}
	exp := tr.expectedLinks(5 * time.Millisecond)
	if len(exp) != 20 {
		t.Errorf("%d finished requests served in the window, want 20", len(exp))
	}
	full := 0
	for _, e := range exp {
		if len(e.Must) == fixtureSteps && len(e.May) == 0 {
			full++
		}
	}
	if full < 10 {
		t.Errorf("only %d requests ran through the whole window unambiguously", full)
	}
	// Request 106ee2ab… ran one step (140); the next step starts as it ends.
	if e := exp["chatcmpl-106ee2ab101e75eb"]; len(e.Must) != 1 || e.Must[0] != 140 || !e.May[141] {
		t.Errorf("chatcmpl-106ee2ab101e75eb expectation %+v", e)
	}
}

func TestShiftedFixture(t *testing.T) {
	tr := loadTruth(t)
	a, b := newShiftedFixture(t, tr), newShiftedFixture(t, tr)
	if a.Delta == b.Delta || bytes.Equal(a.TraceGZ[:64], b.TraceGZ[:64]) && a.TraceName == b.TraceName {
		t.Error("two shifted fixtures are not distinct")
	}
	if a.Delta%1000 != 0 {
		t.Errorf("delta %d is not whole microseconds", a.Delta)
	}
	if d := time.Since(a.End); d < 0 || d > 5*time.Minute {
		t.Errorf("shifted window ends %v ago, want about a minute", d)
	}
	js := testkit.Gunzip(t, a.TraceGZ)
	if want := fmt.Sprintf(`"baseTimeNanoseconds": %d,`, fixtureBaseTime+a.Delta); !bytes.Contains(js, []byte(want)) {
		t.Errorf("shifted trace lacks %s", want)
	}
	spans, err := decodeOTLPJSON(a.Spans)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := readOTLPJSONFile(fixtureSpans)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != len(orig) {
		t.Fatalf("%d shifted spans, %d original", len(spans), len(orig))
	}
	for i := range spans {
		if spans[i].Start != orig[i].Start+a.Delta || spans[i].SpanID != orig[i].SpanID ||
			spans[i].TraceID != a.TraceIDs[orig[i].TraceID] || spans[i].TraceID == orig[i].TraceID {
			t.Fatalf("span %d shifted wrongly: %+v from %+v", i, spans[i], orig[i])
		}
	}
	lines := bytes.Split(bytes.TrimSpace(a.JSONLog), []byte("\n"))
	if len(lines) != 498 || !bytes.HasPrefix(lines[0], []byte(`{"created": `)) {
		t.Errorf("shifted log: %d lines, first %.80s", len(lines), lines[0])
	}
}
