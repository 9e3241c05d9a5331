package app

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpjson"
)

// The H100 text log as the kubelet keeps it (CRI, render_logs.py's times),
// and the JSON log.
const (
	criLog  = "../../../../linker/logfiles/testdata/h100-vllm.cri.log"
	jsonLog = "../../../../testdata/h100/vllm.jsonl"
)

// requestSpans returns, per llm_request span written, its request id and
// its vllm.request.task ("" when none).
func requestSpans(reqs []*coltracepb.ExportTraceServiceRequest) map[string]string {
	out := map[string]string{}
	for _, req := range reqs {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					if s.Name != "llm_request" {
						continue
					}
					id, task := "", ""
					for _, a := range s.Attributes {
						switch a.Key {
						case "gen_ai.request.id":
							id = a.Value.GetStringValue()
						case "vllm.request.task":
							task = a.Value.GetStringValue()
						}
					}
					out[id] = task
				}
			}
		}
	}
	return out
}

func convertRequests(t *testing.T, args ...string) (map[string]string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "spans.jsonl")
	code, stdout, stderr := runMain(append(append([]string{"convert", "-o", out, "--timezone", "UTC"}, args...), smallTrace)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b := testkit.ReadFile(t, out)
	if strings.Contains(string(b), "quick brown fox") {
		t.Fatal("a vLLM output text was exported")
	}
	var reqs []*coltracepb.ExportTraceServiceRequest
	if err := otlpjson.ReadJSONLines(bytes.NewReader(b), func(r *coltracepb.ExportTraceServiceRequest) error {
		reqs = append(reqs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return requestSpans(reqs), stdout
}

// TestConvertRequestsCRIGlobAndGzip: convert --requests takes a glob over
// pod log folders, reads a rotated .gz part and the live part of a CRI log,
// and links the same requests as the JSON log does.
func TestConvertRequestsCRIGlobAndGzip(t *testing.T) {
	lines := strings.SplitAfter(string(testkit.ReadFile(t, criLog)), "\n")
	half := len(lines) / 2
	for strings.Contains(lines[half-1], " stdout P ") {
		half++ // never cut between a partial line and its end
	}
	dir := filepath.Join(t.TempDir(), "pods", "default_vllm-0_5f0c19a2", "vllm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(strings.Join(lines[:half], "")))
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "0.log.20261127-142200.gz"), zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0.log"), []byte(strings.Join(lines[half:], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	glob := filepath.Join(filepath.Dir(filepath.Dir(dir)), "*vllm*", "vllm", "0.log*")
	cri, stdout := convertRequests(t, "--requests", glob)
	if n := strings.Count(stdout, ": cri/text, "); n != 2 {
		t.Errorf("summary names %d CRI text logs, want 2:\n%s", n, stdout)
	}
	json, _ := convertRequests(t, "--requests", jsonLog)
	if len(json) == 0 {
		t.Fatal("the JSON log linked no request: the comparison would prove nothing")
	}
	if len(cri) != len(json) {
		t.Errorf("CRI log gave %d llm_request spans, the JSON log %d", len(cri), len(json))
	}
	for id, task := range cri {
		if _, ok := json[id]; !ok {
			t.Errorf("%s linked from the CRI log only", id)
		}
		if task != "" {
			t.Errorf("%s: task %q from a container log", id, task)
		}
	}
}

// TestConvertRequestsNoMatch: a --requests pattern that names no file is
// an error, as a missing file was.
func TestConvertRequestsNoMatch(t *testing.T) {
	out := filepath.Join(t.TempDir(), "spans.jsonl")
	code, _, stderr := runMain("convert", "-o", out, "--requests", filepath.Join(t.TempDir(), "*.log"), smallTrace)
	if code == 0 || !strings.Contains(stderr, "no such file") {
		t.Fatalf("exit %d, stderr %q; want a failure naming the pattern", code, stderr)
	}
}

// TestRunFollowsTaskFolder: the daemon follows a folder of task logs; a
// task file written after it started is picked up, and the llm_request
// spans of its requests carry the file's stem as vllm.request.task.
func TestRunFollowsTaskFolder(t *testing.T) {
	c := startCollector(t)
	dir, state, logs := t.TempDir(), filepath.Join(t.TempDir(), "state.json"), t.TempDir()
	d := startDaemon(t, daemonArgs(dir, state, c, "--vllm-log", logs, "--vllm-log-timezone", "UTC", "--hold-timeout", "3s"))
	time.Sleep(300 * time.Millisecond) // the daemon is up before the task starts
	testkit.PlaceFile(t, filepath.Join(logs, "bench-7.jsonl"), testkit.ReadFile(t, jsonLog))
	testkit.PlaceFile(t, filepath.Join(dir, filepath.Base(smallTrace)), testkit.ReadFile(t, smallTrace))
	testkit.WaitFor(t, "llm_request spans", 60*time.Second, func() bool { return len(requestSpans(c.Requests())) > 0 })
	d.stop(t)
	spans := requestSpans(c.Requests())
	for id, task := range spans {
		if task != "bench-7" {
			t.Errorf("%s: vllm.request.task %q, want bench-7", id, task)
		}
	}
	t.Logf("%d llm_request spans with their task", len(spans))
}

// TestLogFilesMetrics: with requests.logs the daemon exports the log
// follower's gauges and counters.
func TestLogFilesMetrics(t *testing.T) {
	dir := t.TempDir()
	cfg := fileDaemonConfig(dir)
	cfg.Requests.Logs = []string{filepath.Join(dir, "logs", "*.log")}
	got := map[string]bool{}
	for _, mf := range gatherMetrics(t, cfg) {
		got[mf.GetName()] = true
	}
	for _, name := range []string{"log_files_followed", "log_files_queued", "log_files_known", "log_lines_total", "log_records_total",
		"log_files_skipped_total", "log_files_duplicate_total", "log_files_truncated_total"} {
		if !got["vllm_otel_bridge_"+name] {
			t.Errorf("no metric vllm_otel_bridge_%s", name)
		}
	}
	cfg.Requests.TaskPattern = "("
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "requests.task_pattern") {
		t.Errorf("a bad task pattern validated: %v", err)
	}
}
