//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestExampleQuickstart runs examples/quickstart.sh as a user would and
// checks its OTLP/JSON output: the bundled profile's step traces and the
// request traces made from the bundled JSON log.
func TestExampleQuickstart(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("bash", "examples/quickstart.sh")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "BRIDGE_BIN="+bridgeBin, "OUT="+out)
	b, err := cmd.CombinedOutput()
	t.Logf("examples/quickstart.sh:\n%s", testkit.Tail(string(b), 3000))
	if err != nil {
		t.Fatalf("examples/quickstart.sh: %v", err)
	}
	spans, err := readOTLPJSONLines(filepath.Join(out, "spans.otlp.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	traces := groupTraces(spans)
	steps, requests := splitRequestTraces(traces)
	tr := loadTruth(t)
	st := checkStepTraces(t, steps, tr, 0, "vllm-example")
	checkRequestTraces(t, tr, requests, st, "vllm-example", true)
}

// TestExampleBridgeConfigRuns starts the daemon with examples/bridge.yaml
// unchanged, its ${VAR:-default}s pointed at temporary paths and at Jaeger
// (as the systemd unit and the container image do), and checks a trace file
// dropped into the profiler dir reaches Jaeger exactly as convert makes it.
func TestExampleBridgeConfigRuns(t *testing.T) {
	tr, fx := loadShiftedFixture(t)
	dir := t.TempDir()
	prof := mkdir(t, dir, "profiles")
	logFile := writeFile(t, filepath.Join(dir, "vllm.jsonl"), nil)
	svc := uniqueName(t, "e2e-example-config")
	env := []string{
		"OTEL_SERVICE_NAME=" + svc,
		"VLLM_PROFILER_DIR=" + prof,
		"VLLM_LOG_FILE=" + logFile,
		"BRIDGE_STATE_DIR=" + mkdir(t, dir, "state"),
		"BRIDGE_RECEIVER_GRPC=" + testkit.FreeAddr(t),
		"BRIDGE_RECEIVER_HTTP=" + testkit.FreeAddr(t),
		"OTLP_ENDPOINT=" + jaegerAPI.otlpGRPC,
		"DEPLOYMENT_ENVIRONMENT=e2e",
	}
	// Only --metrics-addr (added by startDaemon) overrides the file.
	startDaemonWithEnv(t, env, "--config", "../examples/bridge.yaml")

	trace := fx.WriteTrace(t, mkdir(t, dir, "convert-input"))
	out := filepath.Join(dir, "expected.otlp.jsonl")
	// The same export: the same service name and resource attributes
	// (they seed the ids, converter.Options.IdentityAttrs).
	spans := convertToFile(t, out, "--service-name", svc, "--resource-attributes", "deployment.environment=e2e", trace)
	expected := groupTraces(spans)

	appendSlowly(t, filepath.Join(prof, fx.TraceName), fx.TraceGZ, 4, 100*time.Millisecond)
	got := waitForTraces(t, expected, svc, 2*time.Minute)
	dropDaemonHostName(t, expected, got)
	// bridge.yaml adds resource_attributes; convert was given them.
	for _, trc := range got {
		for _, s := range trc.Spans {
			if s.Resource["deployment.environment"] != "e2e" {
				t.Fatalf("span %q: resource deployment.environment = %v, want e2e (from bridge.yaml)", s.Name, s.Resource["deployment.environment"])
			}
		}
	}
	for _, id := range traceIDs(expected) {
		compareSpans(t, "Jaeger vs convert", expected[id], got[id])
	}
	checkStepTraces(t, got, tr, fx.Delta, svc)
}

// TestExampleJaegerLocal runs examples/jaeger-local.sh against the test's
// Jaeger (the script's "existing Jaeger" path) and checks the bundled
// profile is searchable there by service and time, whole.
func TestExampleJaegerLocal(t *testing.T) {
	tr := loadTruth(t)
	svc := uniqueName(t, "e2e-example-jaeger")
	out := filepath.Join(t.TempDir(), "expected.otlp.jsonl")
	trace, err := filepath.Glob("../examples/data/*.pt.trace.json.gz")
	if err != nil || len(trace) != 1 {
		t.Fatalf("examples/data holds %v, want one trace", trace)
	}
	spans := convertToFile(t, out, "--service-name", svc, "--requests", "../examples/data/vllm.jsonl", trace[0])
	want := len(spans)

	cmd := exec.Command("bash", "examples/jaeger-local.sh")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "BRIDGE_BIN="+bridgeBin, "SERVICE_NAME="+svc,
		"JAEGER_OTLP_GRPC="+jaegerAPI.otlpGRPC, "JAEGER_QUERY="+jaegerAPI.query)
	b, err := cmd.CombinedOutput()
	t.Logf("examples/jaeger-local.sh:\n%s", testkit.Tail(string(b), 2000))
	if err != nil {
		t.Fatalf("examples/jaeger-local.sh: %v", err)
	}

	w := tr.window()
	var got map[string]*Trace
	poll(t, time.Minute, "example spans searchable in Jaeger", func(ctx context.Context) (bool, string, error) {
		found, err := jaegerAPI.Find(ctx, svc, "", time.Unix(0, w.StartNS).Add(-time.Minute), time.Unix(0, w.StopNS).Add(time.Minute), 1000)
		if err != nil {
			return false, "", err
		}
		got = groupTraces(onlyService(found, svc))
		n := spanCount(got)
		return n >= want, fmt.Sprintf("%d of %d spans found", n, want), nil
	})
	steps, requests := splitRequestTraces(got)
	st := checkStepTraces(t, steps, tr, 0, svc)
	checkRequestTraces(t, tr, requests, st, svc, true)
	checkReadmeJaegerQueries(t, svc, got, time.Unix(0, w.StartNS).Add(-time.Minute), time.Unix(0, w.StopNS).Add(time.Minute))
}

// checkReadmeJaegerQueries runs the README's "Find a slow request" Jaeger
// queries against what the example exported (all, from got) and checks
// their answers: by request id, the one request trace and every
// vllm.request.step span of it, each linked to a step trace; by step
// operation, step traces only, never request traces.
func checkReadmeJaegerQueries(t *testing.T, svc string, got map[string]*Trace, min, max time.Time) {
	t.Helper()
	// The answer key, from the spans found by time alone.
	wantSteps := map[string]int{}   // request id -> its vllm.request.step spans
	stepTraces := map[string]bool{} // decode step traces
	anyStep := map[string]bool{}    // step traces of every kind
	for id, tr := range got {
		for _, s := range tr.Spans {
			switch {
			case s.Name == "vllm.request.step":
				rid, _ := s.Attrs["gen_ai.request.id"].(string)
				wantSteps[rid]++
			case s.Parent == "" && strings.HasPrefix(s.Name, "vllm.step."):
				anyStep[id] = true
				stepTraces[id] = s.Name == "vllm.step.decode"
			}
		}
	}
	for id, decode := range stepTraces {
		if !decode {
			delete(stepTraces, id)
		}
	}
	if len(wantSteps) == 0 || len(stepTraces) == 0 {
		t.Fatalf("example has %d requests with step spans and %d decode step traces", len(wantSteps), len(stepTraces))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	checked := 0
	for rid, n := range wantSteps {
		if checked == 3 {
			break
		}
		checked++
		for _, op := range []string{"llm_request", "vllm.request.step"} {
			found, err := jaegerAPI.FindTagged(ctx, svc, op, map[string]string{"gen_ai.request.id": rid}, min, max, 20)
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != 1 {
				t.Errorf("Jaeger: operation %s, tag gen_ai.request.id=%s: %d traces, want 1", op, rid, len(found))
				continue
			}
			steps := 0
			for _, s := range found[0].Spans {
				if s.OperationName != "vllm.request.step" {
					continue
				}
				steps++
				linked := false
				for _, r := range s.References {
					if r.RefType == "FOLLOWS_FROM" && anyStep[r.TraceID] {
						linked = true
					}
				}
				if !linked {
					t.Errorf("Jaeger: %s: a vllm.request.step span has no link to an exported step trace: %+v", rid, s.References)
				}
			}
			if steps != n {
				t.Errorf("Jaeger: operation %s, request %s: %d vllm.request.step spans, want %d", op, rid, steps, n)
			}
		}
	}
	// The README's tag queries for step verdicts: launch-bound decode
	// steps, and one rank's steps of one bottleneck (on vllm.rank.step,
	// where each rank's own figures are).
	for _, q := range []struct {
		op   string
		tags map[string]string
	}{
		{"vllm.step.decode", map[string]string{"vllm.step.bottleneck": "launch_bound"}},
		{"vllm.rank.step", map[string]string{"vllm.rank": "0", "vllm.step.bottleneck": "gpu_compute"}},
	} {
		want := map[string]bool{}
		for id, tr := range got {
			for _, s := range tr.Spans {
				match := s.Name == q.op
				for k, v := range q.tags {
					match = match && fmt.Sprint(s.Attrs[k]) == v
				}
				if match {
					want[id] = true
				}
			}
		}
		if len(want) == 0 {
			t.Fatalf("the example has no %s span with %v: the query below would prove nothing", q.op, q.tags)
		}
		found, err := jaegerAPI.FindTagged(ctx, svc, q.op, q.tags, min, max, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != len(want) {
			t.Errorf("Jaeger: operation %s, tags %v: %d traces, want %d", q.op, q.tags, len(found), len(want))
		}
		for _, tr := range found {
			if !want[tr.TraceID] {
				t.Errorf("Jaeger: operation %s, tags %v found trace %s, which has no such span", q.op, q.tags, tr.TraceID)
			}
		}
	}
	found, err := jaegerAPI.FindTagged(ctx, svc, "vllm.step.decode", nil, min, max, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(stepTraces) {
		t.Errorf("Jaeger: operation vllm.step.decode: %d traces, want the %d decode step traces", len(found), len(stepTraces))
	}
	for _, tr := range found {
		if !stepTraces[tr.TraceID] {
			t.Errorf("Jaeger: operation vllm.step.decode found trace %s, which is no decode step trace", tr.TraceID)
		}
	}
}
