//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
)

// Events per Kineto category in the bundled trace (python3 -c "import json,
// gzip,collections; print(collections.Counter(e.get('cat') for e in json.load(
// gzip.open(F))['traceEvents']))"). Each becomes exactly one span: the
// converter never drops an event silently, and the trace is far below the
// default cap of 10,000 spans per trace.
var fixtureSpansPerCategory = map[string]int{
	"kernel":       29039,
	"gpu_memcpy":   240,
	"gpu_memset":   120,
	"cpu_op":       21190,
	"cuda_runtime": 6267,
	"cuda_driver":  305,
}

// stepTrace is one engine step's trace as found in the output.
type stepTrace struct {
	Trace *Trace
	Root  *Span
	Index int64
	Truth truthStep
}

// checkStepTraces checks the shape of the spans made from the bundled trace
// (shifted by delta) and returns the step traces by trace id:
//   - every trace has exactly one root and no orphan spans;
//   - one trace per step annotation (30), each root carrying a distinct
//     vllm.step.index, named by its kind, starting at its step (truth.json);
//   - every kernel's parent is the runtime call that launched it, in the same
//     trace; each step has one cudaGraphLaunch, parent of its graph's kernels,
//     itself under a cpu_op / annotation span of the step;
//   - every event of fixtureSpansPerCategory is there exactly once;
//   - resource: service.name, vllm.rank, gpu.name; at most 10,000 spans per trace.
func checkStepTraces(t *testing.T, traces map[string]*Trace, tr *truth, delta int64, service string) map[string]*stepTrace {
	t.Helper()
	steps := map[string]*stepTrace{}
	byIndex := map[int64]string{}
	byTruth := map[int]string{}
	perCat := map[string]int{}
	for id, trc := range traces {
		roots := trc.Roots()
		if len(roots) != 1 {
			t.Errorf("trace %s: %d root spans, want 1: %s", id, len(roots), spanNames(roots, 5))
			continue
		}
		if o := trc.Orphans(); len(o) > 0 {
			t.Errorf("trace %s: %d spans whose parent is not in the trace, e.g. %s", id, len(o), spanNames(o, 3))
		}
		if n := len(trc.Spans); n > 10000 {
			t.Errorf("trace %s: %d spans, above the default cap of 10000", id, n)
		}
		for _, s := range trc.Spans {
			perCat[s.Category()]++
			checkResource(t, s, service)
		}
		root := roots[0]
		idx, ok := intAttr(root.Attrs, "vllm.step.index")
		if !ok {
			continue // the per-file "profile" trace, or a request trace
		}
		st := &stepTrace{Trace: trc, Root: root, Index: idx}
		if prev, dup := byIndex[idx]; dup {
			t.Errorf("vllm.step.index %d on the roots of traces %s and %s", idx, prev, id)
		}
		byIndex[idx] = id
		ts, ok := tr.stepAt(root.Start, delta, time.Millisecond)
		if !ok {
			t.Errorf("trace %s: step root %q starts at %d, not within 1ms of any profiled step", id, root.Name, root.Start)
		} else {
			st.Truth = ts
			if prev, dup := byTruth[ts.Step]; dup {
				t.Errorf("step %d has two step traces: %s and %s", ts.Step, prev, id)
			}
			byTruth[ts.Step] = id
			if want := string(truthKinds[ts.Kind]); root.Name != want {
				t.Errorf("trace %s: step root named %q, want %q (step %d)", id, root.Name, want, ts.Step)
			}
		}
		checkGPUTree(t, st)
		steps[id] = st
	}
	if len(steps) != fixtureSteps {
		t.Errorf("%d step traces (roots with vllm.step.index), want %d", len(steps), fixtureSteps)
	}
	for cat, want := range fixtureSpansPerCategory {
		if got := perCat[cat]; got != want {
			t.Errorf("%d spans with kineto.category=%q, want %d (one per trace event)", got, cat, want)
		}
	}
	return steps
}

// truthKinds maps truth.json's step kinds to the step root names.
var truthKinds = map[string]enginestep.Kind{
	"decode": enginestep.KindDecode, "prefill": enginestep.KindPrefill, "mixed": enginestep.KindMixed,
}

func checkResource(t *testing.T, s *Span, service string) {
	t.Helper()
	if got := s.ServiceName(); got != service {
		t.Errorf("span %s %q: service.name %q, want %q", s.SpanID, s.Name, got, service)
	}
	if s.Parent == "" && strings.HasPrefix(s.Name, "vllm.step.") {
		// A step root is every rank's: its resource names no rank.
		if _, ok := s.Resource["vllm.rank"]; ok {
			t.Errorf("step root %s: resource names rank %#v", s.SpanID, s.Resource["vllm.rank"])
		}
		return
	}
	if r, ok := intAttr(s.Resource, "vllm.rank"); !ok || r != 0 {
		t.Errorf("span %s %q: resource vllm.rank = %#v, want 0", s.SpanID, s.Name, s.Resource["vllm.rank"])
	}
	if g := s.Resource["gpu.name"]; g != fixtureGPU {
		t.Errorf("span %s %q: resource gpu.name = %#v, want %q", s.SpanID, s.Name, g, fixtureGPU)
	}
}

// checkGPUTree checks kernels hang under their launches within one step.
func checkGPUTree(t *testing.T, st *stepTrace) {
	t.Helper()
	trc := st.Trace
	var launches []*Span
	kernelsUnder := map[string]int{}
	for _, s := range trc.Spans {
		if s.Name == "cudaGraphLaunch" {
			launches = append(launches, s)
		}
		switch s.Category() {
		case "kernel", "gpu_memcpy", "gpu_memset":
			p := trc.Spans[s.Parent]
			if p == nil {
				continue // reported as an orphan
			}
			if c := p.Category(); c != "cuda_runtime" && c != "cuda_driver" {
				t.Errorf("step %d: %s span %q has parent %q (kineto.category %q), want the cuda_runtime/cuda_driver call that launched it",
					st.Index, s.Category(), s.Name, p.Name, c)
			}
			if s.Category() == "kernel" {
				kernelsUnder[s.Parent]++
			}
		}
	}
	if len(launches) != 1 {
		t.Errorf("step %d: %d cudaGraphLaunch spans, want 1 (every step of the fixture replays one CUDA graph)", st.Index, len(launches))
		return
	}
	l := launches[0]
	if kernelsUnder[l.SpanID] == 0 {
		t.Errorf("step %d: cudaGraphLaunch has no kernel children", st.Index)
	}
	p := trc.Spans[l.Parent]
	if p == nil {
		t.Errorf("step %d: cudaGraphLaunch has no parent in the trace", st.Index)
		return
	}
	if c := p.Category(); p != st.Root && c != "cpu_op" && c != "user_annotation" {
		t.Errorf("step %d: cudaGraphLaunch's parent %q has kineto.category %q, want cpu_op or user_annotation", st.Index, p.Name, c)
	}
	// The launch must sit under the step root (no cycles, no detours).
	for s, hops := p, 0; s != st.Root; hops++ {
		if s == nil || hops > 1000 {
			t.Errorf("step %d: cudaGraphLaunch's ancestors do not reach the step root", st.Index)
			return
		}
		s = trc.Spans[s.Parent]
	}
}

// compareSpans checks that got holds exactly the spans of want, unchanged:
// ids, parent, name, kind, times, attributes, links, events, resource.
func compareSpans(t *testing.T, what string, want, got *Trace) {
	t.Helper()
	if len(got.Spans) != len(want.Spans) {
		t.Errorf("%s trace %s: %d spans, want %d", what, want.ID, len(got.Spans), len(want.Spans))
	}
	bad := 0
	for id, w := range want.Spans {
		g := got.Spans[id]
		if g == nil {
			if bad++; bad <= 5 {
				t.Errorf("%s trace %s: span %s %q missing", what, want.ID, id, w.Name)
			}
			continue
		}
		if d := spanDiff(w, g); d != "" {
			if bad++; bad <= 5 {
				t.Errorf("%s trace %s: span %s %q differs: %s", what, want.ID, id, w.Name, d)
			}
		}
	}
	if bad > 5 {
		t.Errorf("%s trace %s: %d spans missing or different in all", what, want.ID, bad)
	}
}

func spanDiff(w, g *Span) string {
	var d []string
	if w.Parent != g.Parent {
		d = append(d, fmt.Sprintf("parent %s != %s", g.Parent, w.Parent))
	}
	if w.Name != g.Name {
		d = append(d, fmt.Sprintf("name %q != %q", g.Name, w.Name))
	}
	if w.Kind != g.Kind {
		d = append(d, fmt.Sprintf("kind %s != %s", g.Kind, w.Kind))
	}
	if w.Start != g.Start || w.End != g.End {
		d = append(d, fmt.Sprintf("time [%d,%d] != [%d,%d]", g.Start, g.End, w.Start, w.End))
	}
	if md := mapDiff(w.Attrs, g.Attrs); md != "" {
		d = append(d, "attributes: "+md)
	}
	if md := mapDiff(w.Resource, g.Resource); md != "" {
		d = append(d, "resource: "+md)
	}
	if len(w.Links) != len(g.Links) || (len(w.Links) > 0 && !reflect.DeepEqual(w.Links, g.Links)) {
		d = append(d, fmt.Sprintf("links %v != %v", g.Links, w.Links))
	}
	if len(w.Events) != len(g.Events) || (len(w.Events) > 0 && !reflect.DeepEqual(w.Events, g.Events)) {
		d = append(d, fmt.Sprintf("events %v != %v", g.Events, w.Events))
	}
	if w.StatusCode != g.StatusCode {
		d = append(d, fmt.Sprintf("status %s != %s", g.StatusCode, w.StatusCode))
	}
	return strings.Join(d, "; ")
}

// mapDiff describes how got differs from want, key by key ("" if equal).
func mapDiff(want, got map[string]any) string {
	var d []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		switch {
		case !ok:
			d = append(d, fmt.Sprintf("%s missing (want %v)", k, want[k]))
		case !reflect.DeepEqual(g, want[k]):
			d = append(d, fmt.Sprintf("%s = %#v, want %#v", k, g, want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("%s = %v unexpected", k, got[k]))
		}
	}
	return strings.Join(d, ", ")
}

func spanNames(spans []*Span, n int) string {
	var names []string
	for i, s := range spans {
		if i == n {
			names = append(names, "…")
			break
		}
		names = append(names, fmt.Sprintf("%q", s.Name))
	}
	return strings.Join(names, ", ")
}

// traceIDs returns the keys of m (trace ids), sorted.
func traceIDs[T any](m map[string]T) []string { return slices.Sorted(maps.Keys(m)) }

// dropDaemonHostName accepts the one resource attribute the daemon adds and
// convert (which may run anywhere) does not: host.name, which must then be
// this host's name. It removes it from got where expected lacks it, so the
// two can be compared span by span.
func dropDaemonHostName(t *testing.T, expected, got map[string]*Trace) {
	t.Helper()
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for id, g := range got {
		e := expected[id]
		if e == nil {
			continue
		}
		var sample *Span
		for _, s := range e.Spans {
			sample = s
			break
		}
		if sample == nil {
			continue
		}
		if _, inConvert := sample.Resource["host.name"]; inConvert {
			continue
		}
		for _, s := range g.Spans {
			h, ok := s.Resource["host.name"]
			if !ok {
				continue
			}
			if h != hostname {
				t.Errorf("span %q: resource host.name %v, want this host's %q", s.Name, h, hostname)
			}
			delete(s.Resource, "host.name")
		}
	}
}

// tolerateRequestStretch accepts the one timing-dependent difference between
// the daemon and convert: convert, holding every step, stretches a bridge-made
// llm_request span to cover its step children; the daemon may have exported
// the request (ending at its log time) before a later trace file added steps
// that end after it. Only that case is normalised, and logged.
func tolerateRequestStretch(t *testing.T, expected, got map[string]*Trace) {
	t.Helper()
	for id, e := range expected {
		g := got[id]
		roots := e.Roots()
		if g == nil || len(roots) != 1 || roots[0].Name != "llm_request" {
			continue
		}
		w := roots[0]
		gr := g.Spans[w.SpanID]
		if gr == nil || gr.End == w.End {
			continue
		}
		var maxChild int64
		for _, s := range e.Spans {
			if s.Parent == w.SpanID && s.End > maxChild {
				maxChild = s.End
			}
		}
		if w.End == maxChild && gr.End < w.End && gr.Start == w.Start {
			t.Logf("request trace %s: llm_request ends at %d in the daemon's output, stretched to its last step (%d) by convert", id, gr.End, w.End)
			gr.End = w.End
		}
	}
}
