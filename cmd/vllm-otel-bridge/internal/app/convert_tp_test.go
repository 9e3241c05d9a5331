package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpjson"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

const tp2Dir = "../../../../testdata/h100-tp2/"

var tp2Files = []string{
	tp2Dir + "dp0_pp0_tp0_dcp0_ep0_rank0.1795790631311526402.pt.trace.json.gz",
	tp2Dir + "dp0_pp0_tp1_dcp0_ep0_rank1.1795790631454955858.pt.trace.json.gz",
}

// readSpans reads an OTLP/JSON lines file.
func readSpans(t *testing.T, path string) []*tracepb.Span {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*tracepb.Span
	err = otlpjson.ReadJSONLines(f, func(req *coltracepb.ExportTraceServiceRequest) error {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func attrOf(s *tracepb.Span, k string) string {
	for _, a := range s.Attributes {
		if a.Key == k {
			if _, ok := a.Value.Value.(*commonpb.AnyValue_IntValue); ok {
				return fmt.Sprint(a.Value.GetIntValue())
			}
			return a.Value.GetStringValue()
		}
	}
	return ""
}

// TestConvertTP2 converts the TP=2 fixture's two ranks in one call, with
// the JSON log: one trace per profiled step with both ranks, one root each
// with vllm.step.ranks 2, and exactly one request-step span per (request,
// step). Converting the ranks in two calls, in either order, gives the
// same trace ids.
func TestConvertTP2(t *testing.T) {
	dir := t.TempDir()
	both := filepath.Join(dir, "both.jsonl")
	if code, _, stderr := runMain(append([]string{"convert", "-o", both, "--requests", tp2Dir + "vllm.jsonl"}, tp2Files...)...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	spans := readSpans(t, both)
	roots := map[string]*tracepb.Span{}
	rankSpans := map[string]int{}
	pairs := map[string]int{}
	for _, s := range spans {
		tr := fmt.Sprintf("%x", s.TraceId)
		switch {
		case len(s.ParentSpanId) == 0 && strings.HasPrefix(s.Name, "vllm.step."):
			if roots[tr] != nil {
				t.Fatalf("trace %s has two step roots", tr)
			}
			roots[tr] = s
		case s.Name == "vllm.rank.step":
			rankSpans[tr]++
		case s.Name == "vllm.request.step":
			pairs[attrOf(s, "gen_ai.request.id")+"/"+attrOf(s, "vllm.step.index")]++
		}
	}
	if len(roots) != 20 {
		t.Fatalf("%d step traces, want 20 (one per profiled step)", len(roots))
	}
	for tr, r := range roots {
		if rankSpans[tr] != 2 || attrOf(r, "vllm.step.ranks") != "2" {
			t.Fatalf("step trace %s: %d rank spans, vllm.step.ranks %s", tr, rankSpans[tr], attrOf(r, "vllm.step.ranks"))
		}
	}
	if len(pairs) == 0 {
		t.Fatal("no request-step spans")
	}
	for k, n := range pairs {
		if n != 1 {
			t.Fatalf("request-step %s written %d times", k, n)
		}
	}

	// Two calls, each order: the same step trace ids.
	for _, order := range [][]string{{tp2Files[0], tp2Files[1]}, {tp2Files[1], tp2Files[0]}} {
		got := map[string]bool{}
		for i, f := range order {
			out := filepath.Join(dir, fmt.Sprintf("one%d.jsonl", i))
			if code, _, stderr := runMain("convert", "-o", out, f); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, s := range readSpans(t, out) {
				if len(s.ParentSpanId) == 0 && strings.HasPrefix(s.Name, "vllm.step.") {
					got[fmt.Sprintf("%x", s.TraceId)] = true
					if attrOf(s, "vllm.step.ranks") != "1" {
						t.Fatalf("a lone rank's root says vllm.step.ranks %s", attrOf(s, "vllm.step.ranks"))
					}
				}
			}
		}
		if len(got) != len(roots) {
			t.Fatalf("separate calls: %d step traces, one call %d", len(got), len(roots))
		}
		for tr := range roots {
			if !got[tr] {
				t.Fatalf("step trace %s of the one call is not among the separate calls'", tr)
			}
		}
	}
}

// TestRunTP2AsFilesArrive: the daemon, given the two ranks' files one
// after the other, writes every step's root with each file; the second
// file's copy carries both ranks (the same root id), and every step trace
// holds both ranks' spans.
func TestRunTP2AsFilesArrive(t *testing.T) {
	c := startCollector(t)
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	// The copies are counted exactly, so an export must not time out and be
	// sent again: with -race on two busy cores one of ~8,700 spans can take
	// longer than the 10 s default.
	d := startDaemon(t, daemonArgs(dir, state, c, "--export-timeout", "2m"))
	for _, f := range tp2Files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		testkit.PlaceFile(t, filepath.Join(dir, filepath.Base(f)), b)
		// the second file arrives once the first is exported
		testkit.WaitFor(t, "the file exported", 60*time.Second, func() bool {
			return testkit.StateRecords(t, state)[filepath.Base(f)] == "exported"
		})
	}
	d.stop(t)
	ranks := map[string][]string{} // root span id -> vllm.step.ranks of each copy, in arrival order
	rankSpans := map[string]int{}
	for _, req := range c.Requests() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					switch {
					case len(s.ParentSpanId) == 0 && strings.HasPrefix(s.Name, "vllm.step."):
						id := fmt.Sprintf("%x", s.SpanId)
						ranks[id] = append(ranks[id], attrOf(s, "vllm.step.ranks"))
					case s.Name == "vllm.rank.step":
						rankSpans[fmt.Sprintf("%x", s.ParentSpanId)]++
					}
				}
			}
		}
	}
	if len(ranks) != 20 {
		t.Fatalf("%d step roots, want 20", len(ranks))
	}
	for id, copies := range ranks {
		if strings.Join(copies, ",") != "1,2" || rankSpans[id] != 2 {
			t.Fatalf("root %s: copies with ranks %v, %d rank spans; want 1 then 2, and 2", id, copies, rankSpans[id])
		}
	}
}

// TestConvertIDsPerExport: the same file converted under two service
// names shares no span id (Jaeger would warn of duplicates); converted
// again with the same settings (a retry) it gives the same ids.
func TestConvertIDsPerExport(t *testing.T) {
	dir := t.TempDir()
	ids := func(name string, args ...string) map[string]bool {
		out := filepath.Join(dir, name)
		if code, _, stderr := runMain(append(append([]string{"convert", "-o", out}, args...), smallTrace)...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		got := map[string]bool{}
		for _, s := range readSpans(t, out) {
			got[fmt.Sprintf("%x", s.SpanId)] = true
		}
		return got
	}
	a := ids("a.jsonl", "--service-name", "svc-a")
	retry := ids("retry.jsonl", "--service-name", "svc-a")
	b := ids("b.jsonl", "--service-name", "svc-b")
	attrs := ids("c.jsonl", "--service-name", "svc-a", "--resource-attributes", "deployment.environment=prod")
	if len(a) == 0 || len(a) != len(retry) {
		t.Fatalf("%d ids, retry %d", len(a), len(retry))
	}
	for id := range a {
		if !retry[id] {
			t.Fatalf("the retry lacks span %s", id)
		}
		if b[id] || attrs[id] {
			t.Fatalf("span id %s under two service names or resources", id)
		}
	}
}
