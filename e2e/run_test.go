//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestRunDaemonWithJSONLog runs the daemon the way a vLLM host does: a
// profiler directory, a state file and vLLM's JSON log followed like tail -F.
// The log is written line by line and the trace grows in place in chunks, as
// vLLM's logger and its gzip writer do. It checks the step traces and the
// request traces the daemon ships, and logs how long after the trace file
// was complete its spans became queryable.
func TestRunDaemonWithJSONLog(t *testing.T) {
	tr, fx := loadShiftedFixture(t)
	dir := t.TempDir()
	prof := mkdir(t, dir, "profiler")
	logPath := filepath.Join(dir, "vllm.jsonl")
	writeFile(t, logPath, nil) // vLLM creates its log at start-up; the bridge reads from the end
	svc := uniqueName(t, "e2e-run")

	// What the daemon must ship: the same spans convert makes from the same
	// trace and log (deterministic ids make the two comparable).
	expected := convertExpectation(t, fx, svc, dir, writeFile(t, filepath.Join(dir, "expect-log.jsonl"), fx.JSONLog))
	// convert reads the whole log and ends a request with no "Generated
	// response" at the log's end; the daemon cannot know the request will
	// never finish and holds it. Such requests are not compared.
	for id, trc := range expected {
		if r := trc.Roots(); len(r) == 1 && r[0].Name == "llm_request" {
			if rid, _ := r[0].Attrs["gen_ai.request.id"].(string); tr.unfinished(rid) {
				t.Logf("not expecting request trace %s of unfinished request %s from the daemon", id, rid)
				delete(expected, id)
			}
		}
	}

	startDaemon(t, "--profiler-dir", prof, "--state-file", filepath.Join(dir, "state.json"),
		"--vllm-log", logPath, "--service-name", svc,
		"--endpoint", jaegerAPI.otlpGRPC, "--protocol", "grpc", "--insecure")

	appendLines(t, logPath, fx.JSONLog, 20, 20*time.Millisecond)
	appendSlowly(t, filepath.Join(prof, fx.TraceName), fx.TraceGZ, 8, 150*time.Millisecond)
	complete := time.Now()
	first := jaegerAPI.firstSpansAfter(complete, svc, 2*time.Minute)

	got := waitForTraces(t, expected, svc, 2*time.Minute)
	all := time.Since(complete)
	if d, ok := first(); ok {
		t.Logf("LATENCY file complete -> first spans queryable in Jaeger: %v; all %d traces verified complete: %v (default settle time 2s; the second includes the test's own polling of %d spans)",
			d.Round(time.Millisecond), len(expected), all.Round(time.Millisecond), spanCount(expected))
	}
	dropDaemonHostName(t, expected, got)
	tolerateRequestStretch(t, expected, got)
	for _, id := range traceIDs(expected) {
		compareSpans(t, "Jaeger vs convert", expected[id], got[id])
	}
	stepTraces, reqTraces := splitRequestTraces(got)
	steps := checkStepTraces(t, stepTraces, tr, fx.Delta, svc)
	checkRequestTraces(t, tr, reqTraces, steps, svc, true)
	checkJaegerView(t, svc, traceIDs(expected))
}

// TestRunReceiverForwardsVLLMSpans sends vLLM's own llm_request spans (and
// the frontend spans of the same traces) to the daemon's OTLP/HTTP receiver,
// checks they reach Jaeger unchanged, and that the daemon hangs each
// request's step spans under its llm_request span, in the caller's trace.
// Half the spans arrive before the trace file, half after it.
func TestRunReceiverForwardsVLLMSpans(t *testing.T) {
	tr, fx := loadShiftedFixture(t)
	dir := t.TempDir()
	prof := mkdir(t, dir, "profiler")
	svc := uniqueName(t, "e2e-receiver")
	recv := testkit.FreeAddr(t)

	early, late := splitSpansByEnd(t, fx.Spans, fx.End.UnixNano())
	sent, err := decodeOTLPJSON(fx.Spans)
	if err != nil {
		t.Fatal(err)
	}
	expected := convertExpectation(t, fx, svc, dir, writeFile(t, filepath.Join(dir, "llm_request.otlp.json"), fx.Spans))

	startDaemon(t, "--profiler-dir", prof, "--state-file", filepath.Join(dir, "state.json"),
		"--receiver-http", recv, "--service-name", svc, "--settle-time", "500ms",
		"--endpoint", jaegerAPI.otlpGRPC, "--protocol", "grpc", "--insecure")

	postOTLPJSON(t, "http://"+recv+"/v1/traces", early)
	appendSlowly(t, filepath.Join(prof, fx.TraceName), fx.TraceGZ, 8, 150*time.Millisecond)
	complete := time.Now()
	first := jaegerAPI.firstSpansAfter(complete, svc, 2*time.Minute)
	postOTLPJSON(t, "http://"+recv+"/v1/traces", late)

	// vLLM's spans arrive unchanged: same ids, names, times, attributes,
	// resource.
	vllmTraces := groupTraces(sent)
	got := map[string]*Trace{}
	poll(t, time.Minute, "vLLM spans forwarded to Jaeger", func(ctx context.Context) (bool, string, error) {
		missing := 0
		for id, w := range vllmTraces {
			spans, err := jaegerAPI.Trace(ctx, id)
			if err != nil && err != errNotFound {
				return false, "", err
			}
			var theirs []Span
			for _, s := range spans {
				if s.ServiceName() != svc {
					theirs = append(theirs, s)
				}
			}
			g := groupTraces(theirs)[id]
			if g == nil || len(g.Spans) < len(w.Spans) {
				missing++
				continue
			}
			got[id] = g
		}
		return missing == 0, fmt.Sprintf("%d of %d vLLM traces not yet complete", missing, len(vllmTraces)), nil
	})
	for _, id := range traceIDs(vllmTraces) {
		compareSpans(t, "forwarded vLLM span", vllmTraces[id], got[id])
	}

	// The bridge's own spans: step traces, and step spans in vLLM's traces.
	mine := waitForTraces(t, expected, svc, 2*time.Minute)
	all := time.Since(complete)
	if d, ok := first(); ok {
		t.Logf("LATENCY file complete -> first bridge spans queryable in Jaeger: %v; all %d traces verified complete: %v (settle time 500ms; the second includes the test's own polling)",
			d.Round(time.Millisecond), len(expected), all.Round(time.Millisecond))
	}
	dropDaemonHostName(t, expected, mine)
	for _, id := range traceIDs(expected) {
		compareSpans(t, "Jaeger vs convert", expected[id], mine[id])
	}
	stepTraces := map[string]*Trace{}
	reqTraces := map[string]*Trace{}
	for id, trc := range mine {
		if vllmTraces[id] != nil {
			// Merge vLLM's spans and the bridge's into the whole trace.
			whole := &Trace{ID: id, Spans: map[string]*Span{}}
			for k, s := range got[id].Spans {
				whole.Spans[k] = s
			}
			for k, s := range trc.Spans {
				whole.Spans[k] = s
			}
			reqTraces[id] = whole
		} else {
			stepTraces[id] = trc
		}
	}
	steps := checkStepTraces(t, stepTraces, tr, fx.Delta, svc)
	checkRequestTraces(t, tr, reqTraces, steps, svc, false)
	checkJaegerView(t, svc, traceIDs(mine))
	for id := range vllmTraces {
		if reqTraces[id] == nil && hasWindowRequest(tr, vllmTraces[id]) {
			t.Errorf("vLLM trace %s serves a request of the profiled window but got no step spans", id)
		}
	}
}

// hasWindowRequest reports whether a vLLM trace's llm_request is one of the
// finished requests served in the profiled window.
func hasWindowRequest(tr *truth, trc *Trace) bool {
	exp := tr.expectedLinks(5 * time.Millisecond)
	for _, s := range trc.Spans {
		if id, _ := s.Attrs["gen_ai.request.id"].(string); id != "" && s.Name == "llm_request" {
			if _, ok := exp[id]; ok {
				return true
			}
		}
	}
	return false
}

// convertExpectation runs convert -o on the fixture's trace with the given
// request source and returns its traces: what the daemon must ship.
func convertExpectation(t *testing.T, fx *shiftedFixture, svc, dir, requests string) map[string]*Trace {
	t.Helper()
	trace := fx.WriteTrace(t, mkdir(t, dir, "convert-input"))
	out := filepath.Join(dir, "expected.otlp.jsonl")
	spans := convertToFile(t, out, "--service-name", svc, "--requests", requests, trace)
	exp := groupTraces(onlyService(spans, svc))
	if len(exp) == 0 {
		t.Fatalf("convert -o %s wrote no spans of service %s", out, svc)
	}
	return exp
}

// splitRequestTraces separates request traces (root llm_request) from the
// step and profile traces.
func splitRequestTraces(all map[string]*Trace) (steps, requests map[string]*Trace) {
	steps, requests = map[string]*Trace{}, map[string]*Trace{}
	for id, trc := range all {
		if r := trc.Roots(); len(r) == 1 && r[0].Name == "llm_request" {
			requests[id] = trc
		} else {
			steps[id] = trc
		}
	}
	return steps, requests
}

// checkRequestTraces checks every finished request served in the profiled
// window: its trace has one llm_request span with its gen_ai.request.id; the
// step spans under it are children of that span, each links to the root of a
// step trace, and that root links back to the request's trace; the steps
// linked are the ones it took part in (see linkExpectation). bridgeRoots says
// whether the bridge itself made the llm_request span (from logs).
func checkRequestTraces(t *testing.T, tr *truth, reqTraces map[string]*Trace, steps map[string]*stepTrace, svc string, bridgeRoots bool) {
	t.Helper()
	stepBySpan := map[string]*stepTrace{}
	for _, st := range steps {
		stepBySpan[st.Root.TraceID+"/"+st.Root.SpanID] = st
	}
	found := map[string]bool{}
	exp := tr.expectedLinks(5 * time.Millisecond)
	for id, trc := range reqTraces {
		var req *Span
		for _, s := range trc.Spans {
			if s.Name == "llm_request" {
				if req != nil {
					t.Errorf("trace %s: two llm_request spans", id)
				}
				req = s
			}
		}
		if req == nil {
			t.Errorf("request trace %s has no llm_request span", id)
			continue
		}
		rid, _ := req.Attrs["gen_ai.request.id"].(string)
		if bridgeRoots {
			if req.Parent != "" || req.ServiceName() != svc {
				t.Errorf("request %s: bridge-made llm_request must be a root of service %s (parent %q, service %q)", rid, svc, req.Parent, req.ServiceName())
			}
			if req.Kind != "2" {
				t.Errorf("request %s: llm_request kind %s, want 2 (SERVER, as vLLM's)", rid, req.Kind)
			}
		}
		e, inWindow := exp[rid]
		var linked []int
		for _, s := range trc.Sorted() {
			if s.ServiceName() != svc || s == req {
				continue
			}
			var target *stepTrace
			for _, l := range s.Links {
				if st := stepBySpan[l.TraceID+"/"+l.SpanID]; st != nil {
					target = st
				}
			}
			if target == nil {
				continue
			}
			if s.Parent != req.SpanID {
				t.Errorf("request %s: step span %q (step %d) has parent %s, want the llm_request span %s", rid, s.Name, target.Index, s.Parent, req.SpanID)
			}
			back := false
			for _, l := range target.Root.Links {
				if l.TraceID == id {
					back = true
				}
			}
			if !back {
				t.Errorf("request %s: step %d's root has no link back to request trace %s", rid, target.Index, id)
			}
			linked = append(linked, target.Truth.Step)
		}
		if !inWindow {
			if len(linked) > 0 && tr.finishedOutsideWindow(rid) {
				t.Errorf("request %s was not served in the profiled window, but is linked to steps %v", rid, linked)
			}
			continue
		}
		found[rid] = true
		sort.Ints(linked)
		if err := e.check(linked); err != nil {
			t.Errorf("request %s: %v", rid, err)
		}
	}
	var missing []string
	for rid := range exp {
		if !found[rid] {
			missing = append(missing, rid)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d finished requests of the profiled window have no request trace with step spans: %s", len(missing), strings.Join(missing, ", "))
	}
	t.Logf("checked %d request traces linked to %d step traces", len(found), len(steps))
}

// splitSpansByEnd splits an OTLP/JSON document into the spans that ended
// before cut and the rest, as two documents.
func splitSpansByEnd(t *testing.T, doc []byte, cut int64) (early, late []byte) {
	t.Helper()
	spans, err := decodeOTLPJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[string]bool{}
	for _, s := range spans {
		if s.End <= cut {
			ends[s.SpanID] = true
		}
	}
	early, err = filterOTLPJSON(doc, func(spanID string) bool { return ends[spanID] })
	if err != nil {
		t.Fatal(err)
	}
	late, err = filterOTLPJSON(doc, func(spanID string) bool { return !ends[spanID] })
	if err != nil {
		t.Fatal(err)
	}
	return early, late
}

func postOTLPJSON(t *testing.T, url string, body []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("POST %s: %s: %s", url, resp.Status, b.Bytes())
	}
}

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// appendLines appends data to path in about n groups of whole lines.
func appendLines(t *testing.T, path string, data []byte, n int, pause time.Duration) {
	t.Helper()
	lines := bytes.SplitAfter(data, []byte("\n"))
	per := (len(lines) + n - 1) / n
	for i := 0; i < len(lines); i += per {
		chunk := bytes.Join(lines[i:min(i+per, len(lines))], nil)
		appendSlowly(t, path, chunk, 1, 0)
		time.Sleep(pause)
	}
}
