//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// What a user sees in Jaeger (issue 12): the checks here read traces back
// the way the UI shows them, through Jaeger's adjusters, and assert no
// warnings, no orphans and low-cardinality operation names.
//
// Jaeger v1.76 reports what its adjusters found (clock skew, duplicate span
// ids, a parent missing from the trace) in two places, and both are read:
//   - /api/v3/traces/{id} without raw_traces=true: OTLP, each affected span
//     carrying the attribute "@jaeger@warnings" (a string array);
//   - /api/traces/{id} (the UI's API): the "warnings" field of each span.
//
// raw_traces=true skips the adjusters, so it shows no warnings at all: the
// other tests use it to compare stored spans exactly; these must not.
//
// The two APIs run different clock-skew adjusters. /api/v3's (v2) tells
// hosts apart by the resource's host.id, host.ip or host.name, so with
// host.name set a kernel that runs after its launch returned is not taken
// for a cross-host call. The UI API's (v1, cmd/query/app/querysvc/internal/
// adjuster/clockskew.go) reads only a process tag "ip", which OTLP
// resources carry only when one is named so: without it every child that
// does not fit inside its parent gets "clock skew adjustment disabled". That
// one warning is tolerated on /api/traces for spans whose resource has no
// "ip"; with --resource-attributes ip=… none is (TestJaegerUIWarningsWithIP).
const jaegerWarningsAttr = "@jaeger@warnings"

// v1SkewWarning starts the UI API's clock-skew warning.
const v1SkewWarning = "clock skew adjustment disabled"

// bridgeOperations is the fixed set of span names the bridge itself makes
// (not read from the trace's events): step roots by kind, the profile root,
// the request side. Everything else is an op or kernel name (from the
// trace, bounded by the program) or an annotation.
var bridgeOperations = map[string]bool{
	"vllm.profile":            true,
	"vllm.step.prefill":       true,
	"vllm.step.decode":        true,
	"vllm.step.mixed":         true,
	"vllm.step.empty":         true,
	"vllm.step.execute":       true,
	"vllm.step.profiler_step": true,
	"vllm.request.step":       true,
	"llm_request":             true,
}

// opCategories are the kineto.category values whose span names are op or
// kernel names (code, bounded by the program, not by the load).
var opCategories = map[string]bool{
	"cpu_op": true, "kernel": true, "cuda_runtime": true, "cuda_driver": true,
	"gpu_memcpy": true, "gpu_memset": true, "python_function": true, "cuda_sync": true,
	"cpu_instant_event": true, "ac2g": true, "fwdbwd": true,
}

// loadInName matches what makes an annotation name unbounded: a count in
// parentheses (execute_context_1(192)_generation_15(15)), a pointer.
var loadInName = regexp.MustCompile(`\(\d+\)|0x[0-9a-fA-F]{6,}`)

// adjustedTrace is one trace as Jaeger's UI shows it: its spans (all
// services) and the adjuster warnings of each span from both query APIs.
type adjustedTrace struct {
	ID    string
	Spans map[string]*Span    // by span id, from /api/v3
	V3    map[string][]string // span id -> "@jaeger@warnings"
	UI    map[string][]string // span id -> /api/traces "warnings"
	// dupIDs counts span ids that /api/v3 returned more than once.
	dupIDs int
}

// AdjustedTrace fetches trace id through Jaeger's adjusters from /api/v3
// and from the UI API.
func (j *jaeger) AdjustedTrace(ctx context.Context, id string) (*adjustedTrace, error) {
	at := &adjustedTrace{ID: id, Spans: map[string]*Span{}, V3: map[string][]string{}, UI: map[string][]string{}}
	spans, err := j.get(ctx, "/api/v3/traces/"+id, nil)
	if err != nil {
		return nil, err
	}
	for i := range spans {
		s := &spans[i]
		if _, dup := at.Spans[s.SpanID]; dup {
			at.dupIDs++
		}
		at.Spans[s.SpanID] = s
		if w, ok := s.Attrs[jaegerWarningsAttr]; ok {
			at.V3[s.SpanID] = append(at.V3[s.SpanID], anyStrings(w)...)
		}
	}
	body, err := j.fetch(ctx, "/api/traces/"+id, url.Values{})
	if err != nil {
		return nil, err
	}
	var out struct {
		Data []taggedTrace `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("GET /api/traces/%s: decode: %w", id, err)
	}
	for _, tr := range out.Data {
		for _, s := range tr.Spans {
			if len(s.Warnings) > 0 {
				at.UI[s.SpanID] = append(at.UI[s.SpanID], s.Warnings...)
			}
		}
	}
	return at, nil
}

func anyStrings(v any) []string {
	switch v := v.(type) {
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case nil:
		return nil
	default:
		return []string{fmt.Sprint(v)}
	}
}

// fetchAdjusted fetches every trace of ids through the adjusters.
func fetchAdjusted(t *testing.T, ids []string) map[string]*adjustedTrace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := make(map[string]*adjustedTrace, len(ids))
	for _, id := range ids {
		at, err := jaegerAPI.AdjustedTrace(ctx, id)
		if err != nil {
			t.Fatalf("trace %s: %v", id, err)
		}
		out[id] = at
	}
	return out
}

// checkJaegerView checks the traces of ids as Jaeger shows them: no
// adjuster warning on any span (either API), no span whose parent is not
// in its trace, and every span of service svc named from the fixed set,
// an op or kernel name, or an annotation whose name carries no load.
func checkJaegerView(t *testing.T, svc string, ids []string) {
	t.Helper()
	traces := fetchAdjusted(t, ids)
	warned, orphans, spans, uiSkew := 0, 0, 0, 0
	var examples []string
	note := func(format string, args ...any) {
		if len(examples) < 8 {
			examples = append(examples, fmt.Sprintf(format, args...))
		}
	}
	badNames := map[string]int{}
	for _, id := range ids {
		at := traces[id]
		spans += len(at.Spans)
		for sid, s := range at.Spans {
			if w := at.V3[sid]; len(w) > 0 {
				warned++
				note("trace %s span %q (%s): /api/v3 %s %q", id, s.Name, s.ServiceName(), jaegerWarningsAttr, w[0])
			} else if w := at.UI[sid]; len(w) > 0 {
				_, hasIP := s.Resource["ip"]
				if hasIP || !onlyPrefix(w, v1SkewWarning) {
					warned++
					note("trace %s span %q (%s): /api/traces warnings %q", id, s.Name, s.ServiceName(), w)
				} else {
					uiSkew++
				}
			}
			if s.Parent != "" && at.Spans[s.Parent] == nil {
				orphans++
				note("trace %s span %q (%s): parent %s is not in the trace", id, s.Name, s.ServiceName(), s.Parent)
			}
			if s.ServiceName() != svc {
				continue // the caller's (vLLM's) own spans
			}
			if !operationNameOK(s) {
				badNames[s.Category()+" "+s.Name]++
			}
		}
		if at.dupIDs > 0 {
			t.Errorf("trace %s: %d span ids returned more than once", id, at.dupIDs)
		}
	}
	if warned > 0 || orphans > 0 {
		t.Errorf("Jaeger view of %d traces (%d spans): %d spans with adjuster warnings, %d orphans, e.g.\n  %s",
			len(ids), spans, warned, orphans, strings.Join(examples, "\n  "))
	}
	if len(badNames) > 0 {
		var names []string
		for n, c := range badNames {
			names = append(names, fmt.Sprintf("%q ×%d", n, c))
		}
		sort.Strings(names)
		if len(names) > 10 {
			names = append(names[:10], fmt.Sprintf("… %d more", len(names)-10))
		}
		t.Errorf("%d operation names outside the fixed set and not op/kernel names (category name ×spans): %s", len(badNames), strings.Join(names, ", "))
	}
	t.Logf("Jaeger view: %d traces, %d spans: %d warned, %d orphans, %d bad operation names; %d spans with only the UI API's clock-skew warning (no \"ip\" resource attribute)",
		len(ids), spans, warned, orphans, len(badNames), uiSkew)
}

// onlyPrefix says whether every warning starts with prefix.
func onlyPrefix(ws []string, prefix string) bool {
	for _, w := range ws {
		if !strings.HasPrefix(w, prefix) {
			return false
		}
	}
	return true
}

// operationNameOK says whether a bridge span's name belongs to a bounded
// set: the fixed set, an op or kernel name, or an annotation (model layer,
// step) whose name carries no count or pointer.
func operationNameOK(s *Span) bool {
	if bridgeOperations[s.Name] {
		return true
	}
	c := s.Category()
	switch {
	case c == "":
		return false // a bridge-made name outside the fixed set
	case opCategories[c]:
		return true
	default: // user_annotation, gpu_user_annotation and the like
		return !loadInName.MatchString(s.Name)
	}
}

// TestJaegerViewConvert sends the bundled example (trace plus vLLM's own
// llm_request spans) with convert, reads it back from Jaeger as the UI
// shows it, and checks: no adjuster warnings (convert sets host.name), no
// orphans (convert forwards the given llm_request spans), operation names
// from the fixed set plus op/kernel names; then a retry with the same
// settings gives the same ids, in the file and in Jaeger.
func TestJaegerViewConvert(t *testing.T) {
	_, fx := loadShiftedFixture(t)
	dir := t.TempDir()
	trace := fx.WriteTrace(t, dir)
	reqs := writeFile(t, filepath.Join(dir, "llm_request.otlp.json"), fx.Spans)
	svc := uniqueName(t, "e2e-view-convert")
	args := []string{"--service-name", svc, "--requests", reqs, trace}

	first := convertToFile(t, filepath.Join(dir, "first.otlp.jsonl"), args...)
	want := groupTraces(onlyService(first, svc))
	runBridge(t, 3*time.Minute, append([]string{"convert", "--endpoint", jaegerAPI.otlpGRPC, "--protocol", "grpc", "--insecure"}, args...)...)
	waitForTraces(t, want, svc, time.Minute)
	// vLLM's spans, forwarded: their traces hold the request-step spans.
	if n := len(first) - len(onlyService(first, svc)); n == 0 {
		t.Fatal("convert -o wrote none of the given llm_request spans")
	}
	waitForTraces(t, groupTraces(first), "", 2*time.Minute)
	ids := traceIDs(groupTraces(first))
	checkJaegerView(t, svc, ids)

	// A retry with the same settings: the same spans under the same ids.
	second := convertToFile(t, filepath.Join(dir, "second.otlp.jsonl"), args...)
	if a, b := spanKeys(first), spanKeys(second); !sameKeys(a, b) {
		t.Errorf("a retry with the same settings changed the ids: %d span ids before, %d after, %d in common", len(a), len(b), common(a, b))
	}
	before := rawKeys(t, ids)
	runBridge(t, 3*time.Minute, append([]string{"convert", "--endpoint", jaegerAPI.otlpGRPC, "--protocol", "grpc", "--insecure"}, args...)...)
	// Jaeger stores a retried span twice (Tempo keeps one): wait until the
	// second copy of every span arrived, then compare the ids.
	waitForSpanCopies(t, ids, 2*len(before), 2*time.Minute)
	if after := rawKeys(t, ids); !sameKeys(before, after) {
		t.Errorf("Jaeger after a retry: %d distinct span ids, before %d, %d in common", len(after), len(before), common(before, after))
	}
}

// TestJaegerUIWarningsWithIP converts the bundled example with an "ip"
// resource attribute, the process tag Jaeger's UI API tells hosts apart by,
// and checks that then no span carries any warning in either API.
func TestJaegerUIWarningsWithIP(t *testing.T) {
	_, fx := loadShiftedFixture(t)
	dir := t.TempDir()
	trace := fx.WriteTrace(t, dir)
	svc := uniqueName(t, "e2e-view-ip")
	args := []string{"--service-name", svc, "--resource-attributes", "ip=127.0.0.1", trace}
	want := groupTraces(convertToFile(t, filepath.Join(dir, "spans.otlp.jsonl"), args...))
	runBridge(t, 3*time.Minute, append([]string{"convert", "--endpoint", jaegerAPI.otlpGRPC, "--protocol", "grpc", "--insecure"}, args...)...)
	waitForTraces(t, want, svc, time.Minute)
	traces := fetchAdjusted(t, traceIDs(want))
	n := 0
	for _, at := range traces {
		for sid, w := range at.UI {
			if n++; n <= 3 {
				t.Errorf("trace %s span %s: /api/traces warnings %q with an ip resource attribute", at.ID, sid, w)
			}
		}
		for sid, w := range at.V3 {
			if n++; n <= 3 {
				t.Errorf("trace %s span %s: /api/v3 %s %q", at.ID, sid, jaegerWarningsAttr, w)
			}
		}
	}
	if n > 0 {
		t.Errorf("%d spans with warnings", n)
	}
}

// waitForSpanCopies waits until the raw traces of ids hold n spans in all,
// counting repeated span ids.
func waitForSpanCopies(t *testing.T, ids []string, n int, timeout time.Duration) {
	t.Helper()
	poll(t, timeout, "retried spans in Jaeger", func(ctx context.Context) (bool, string, error) {
		total := 0
		for _, id := range ids {
			spans, err := jaegerAPI.Trace(ctx, id)
			if err != nil && err != errNotFound {
				return false, "", err
			}
			total += len(spans)
		}
		return total >= n, fmt.Sprintf("%d of %d span copies", total, n), nil
	})
}

// rawKeys returns the distinct trace/span ids Jaeger stores for ids.
func rawKeys(t *testing.T, ids []string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var all []Span
	for _, id := range ids {
		spans, err := jaegerAPI.Trace(ctx, id)
		if err != nil {
			t.Fatalf("trace %s: %v", id, err)
		}
		all = append(all, spans...)
	}
	return spanKeys(all)
}

func spanKeys(spans []Span) map[string]bool {
	m := make(map[string]bool, len(spans))
	for _, s := range spans {
		m[s.TraceID+"/"+s.SpanID] = true
	}
	return m
}

func sameKeys(a, b map[string]bool) bool { return len(a) == len(b) && common(a, b) == len(a) }

func common(a, b map[string]bool) int {
	n := 0
	for k := range a {
		if b[k] {
			n++
		}
	}
	return n
}
