package app

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/report"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	exampleTrace    = "../../../../examples/data/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz"
	exampleRequests = "../../../../examples/data/vllm.jsonl"
)

// The JSON report of the bundled example, linked to its JSON log. The
// golden changes when the converter starts writing issue 13's step
// attributes (insights): regenerate it with -update then.
func TestInspectExampleJSONGolden(t *testing.T) {
	code, stdout, stderr := runMain("inspect", "--json", "--requests", exampleRequests, exampleTrace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden := filepath.Join("testdata", "inspect-example.golden.json")
	if *update {
		if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(want) {
		t.Errorf("inspect --json differs from %s (rerun with -update if the change is meant)", golden)
	}
	var doc struct {
		Files []struct{ Name string }
		Steps []map[string]any
		// Requests as the report tells them.
		Requests []struct {
			ID    string
			Steps int
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	// Independent figures: examples/data/README.md says 30 profiled steps
	// (engine steps 140-169); the converter's own summary for this file
	// (convert) says the same; every step is linked to 16 requests
	// (execute_context_N_generation_M with N+M = 16 throughout).
	if len(doc.Files) != 1 || len(doc.Steps) != 30 {
		t.Fatalf("%d files, %d steps", len(doc.Files), len(doc.Steps))
	}
	pairs := 0
	for _, q := range doc.Requests {
		pairs += q.Steps
	}
	if pairs != 30*16 {
		t.Errorf("%d (request, step) pairs, want 480", pairs)
	}
	for i, s := range doc.Steps {
		if s["vllm.step.index"] != float64(i) {
			t.Errorf("steps[%d] index %v", i, s["vllm.step.index"])
		}
		busy, idle, wall := s["vllm.step.gpu_busy_ns"].(float64), s["vllm.step.gpu_idle_ns"].(float64), s["wall_ns"].(float64)
		if busy+idle != wall {
			t.Errorf("steps[%d]: busy %v + idle %v != wall %v", i, busy, idle, wall)
		}
		// Issue 13's sums, between the converter's step-root attributes
		// and the report's own sums over the spans it saw: GPU time by
		// class adds up to the summed GPU span durations, the idle split
		// to the idle time.
		var classes float64
		for _, c := range report.Classes {
			classes += s[report.ClassAttr(c)].(float64)
		}
		if span := s["gpu_span_ns"].(float64); classes != span {
			t.Errorf("steps[%d]: gpu_time by class sums to %v, its GPU spans to %v", i, classes, span)
		}
		var split float64
		for _, p := range report.IdleParts {
			split += s[p.Attr].(float64)
		}
		if split != idle {
			t.Errorf("steps[%d]: idle split sums to %v, gpu_idle_ns is %v", i, split, idle)
		}
		for d, key := range map[string]string{"htod": report.AttrMemcpyHtoD, "dtoh": report.AttrMemcpyDtoH, "dtod": report.AttrMemcpyDtoD} {
			if s[key] != s["memcpy_"+d+"_bytes"] {
				t.Errorf("steps[%d]: %s %v, the report's memcpy spans %v", i, key, s[key], s["memcpy_"+d+"_bytes"])
			}
		}
	}
	// The kernel tables' classes (the report classifying every GPU span
	// as it streams past) agree with the roots' gpu_time by class.
	var full struct {
		ClassNs map[string]float64 `json:"class_ns"`
	}
	if err := json.Unmarshal([]byte(stdout), &full); err != nil {
		t.Fatal(err)
	}
	for _, c := range report.Classes {
		var roots float64
		for _, s := range doc.Steps {
			roots += s[report.ClassAttr(c)].(float64)
		}
		if full.ClassNs[c] != roots {
			t.Errorf("class %s: kernel tables %v ns, step roots %v ns", c, full.ClassNs[c], roots)
		}
	}
}

// Every GPU span of the file is in the kernel tables: their kernel calls
// add up to the converter's own count of kernel events, and per step to
// the converter's vllm.step.kernel_count.
func TestInspectKernelTablesCountEveryKernel(t *testing.T) {
	f, err := os.Open(smallTrace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := converter.Convert(context.Background(), f, converter.DefaultOptions(), func(*span.Batch) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain("inspect", "--json", "--top-kernels", "100000", smallTrace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Steps   []map[string]any
		Kernels []struct {
			Kind string
			Rows []struct {
				Category string
				Calls    int64
			}
			Rest struct{ Calls int64 }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	var calls, inSteps int64
	for _, kt := range doc.Kernels {
		if kt.Rest.Calls != 0 {
			t.Errorf("%s: %d calls beyond the rows", kt.Kind, kt.Rest.Calls)
		}
		for _, r := range kt.Rows {
			if r.Category == "kernel" {
				calls += r.Calls
				if kt.Kind != "profile" {
					inSteps += r.Calls
				}
			}
		}
	}
	if want := st.ByCategory["kernel"]; calls != int64(want) {
		t.Errorf("kernel tables hold %d kernel calls, the converter counted %d kernel events", calls, want)
	}
	var perStep int64
	for _, s := range doc.Steps {
		perStep += int64(s["vllm.step.kernel_count"].(float64))
	}
	if perStep != inSteps {
		t.Errorf("steps' kernel tables hold %d kernels, their vllm.step.kernel_count sum to %d", inSteps, perStep)
	}
}

func TestInspectTextAndHTML(t *testing.T) {
	html := filepath.Join(t.TempDir(), "report.html")
	code, stdout, stderr := runMain("inspect", "--html", html, smallTrace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{"vllm-otel-bridge inspect\n", "\nSteps\n", "Top kernels: ", "\nChecklist\n",
		"[ok  ] memory allocation", "no request data: --requests FILE"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("report lacks %q:\n%s", s, stdout)
		}
	}
	// smallTrace holds 3 steps (TestConvertWritesOTLPJSONAndSummary).
	if n := strings.Count(stdout, "  decode  ") + strings.Count(stdout, "  prefill  ") + strings.Count(stdout, "  mixed  "); n != 3 {
		t.Errorf("%d step rows:\n%s", n, stdout)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"http:", "https:", "<script", "<link", "src="} {
		if bytes.Contains(page, []byte(bad)) {
			t.Errorf("HTML holds %q: not self-contained", bad)
		}
	}
	if !bytes.Contains(page, []byte(`<svg id="step-chart"`)) || !bytes.Contains(page, []byte("<h2>Checklist</h2>")) {
		t.Error("HTML lacks the chart or the checklist")
	}
	if entries, _ := os.ReadDir(filepath.Dir(html)); len(entries) != 1 {
		t.Errorf("%d files beside the report (temporary file left?)", len(entries))
	}
}

func TestInspectErrors(t *testing.T) {
	if code, _, stderr := runMain("inspect"); code != 2 || !strings.Contains(stderr, "at least one trace file") {
		t.Errorf("no trace: exit %d, %s", code, stderr)
	}
	if code, _, _ := runMain("inspect", "--top-kernels", "0", smallTrace); code != 2 {
		t.Errorf("--top-kernels 0: exit %d", code)
	}
	// A missing file fails (exit 1, its own line) and the rest is still
	// reported.
	missing := filepath.Join(t.TempDir(), "nope.pt.trace.json.gz")
	code, stdout, stderr := runMain("inspect", missing, smallTrace)
	if code != 1 || !strings.Contains(stderr, missing) || !strings.Contains(stdout, "\nChecklist\n") ||
		!strings.Contains(stdout, "file 1: nope.pt.trace.json.gz, 0 steps, FAILED: open "+missing) {
		t.Errorf("missing file: exit %d\nstderr %s\nstdout %s", code, stderr, stdout)
	}
	// The same file twice is refused, not counted twice.
	if code, _, stderr := runMain("inspect", smallTrace, smallTrace); code != 1 || !strings.Contains(stderr, "seen twice") {
		t.Errorf("same file twice: exit %d, %s", code, stderr)
	}
}

// Two files of the same base name (smallTrace and the example) stay two
// files: 3 + 30 steps, a file column.
func TestInspectTwoFiles(t *testing.T) {
	code, stdout, stderr := runMain("inspect", "--json", smallTrace, exampleTrace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Files []struct {
			Name  string
			Steps int
		}
		Steps []struct {
			File int
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Files) != 2 || doc.Files[0].Steps != 3 || doc.Files[1].Steps != 30 || len(doc.Steps) != 33 ||
		doc.Steps[2].File != 0 || doc.Steps[3].File != 1 {
		t.Fatalf("files %+v, %d steps", doc.Files, len(doc.Steps))
	}
	_, text, _ := runMain("inspect", smallTrace, exampleTrace)
	if !strings.Contains(text, "\nfile  step  kind ") || !strings.Contains(text, "file 2: dp0_pp0_tp0_dcp0_ep0_rank0") {
		t.Errorf("text report of two files:\n%s", text)
	}
}

// inspect works on every trace fixture in the repository (vLLM's and
// HTA's): the report's sums hold wherever the attributes are present.
func TestInspectEveryFixture(t *testing.T) {
	traces := testkit.Glob(t, "../../../../testdata/*/*.pt.trace.json.gz", "../../../../converter/testdata/hta/*.json*", "../../../../converter/testdata/golden/*.json")
	if len(traces) < 20 {
		t.Fatalf("only %d fixtures found", len(traces))
	}
	for _, tr := range traces {
		t.Run(filepath.Base(tr), func(t *testing.T) {
			html := filepath.Join(t.TempDir(), "r.html")
			code, stdout, stderr := runMain("inspect", "--json", "--html", html, tr)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var doc struct {
				Steps     []map[string]any
				Checklist []struct{ Status string }
			}
			if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Checklist) != 6 {
				t.Errorf("%d checklist items", len(doc.Checklist))
			}
			for i, s := range doc.Steps {
				busy, ok1 := s["vllm.step.gpu_busy_ns"].(float64)
				idle, ok2 := s["vllm.step.gpu_idle_ns"].(float64)
				if ok1 && ok2 && busy+idle != s["wall_ns"].(float64) {
					t.Errorf("steps[%d]: busy %v + idle %v != wall %v", i, busy, idle, s["wall_ns"])
				}
				if _, ok := s[report.ClassAttr("gemm")].(float64); !ok {
					continue
				}
				var classes float64
				for _, c := range report.Classes {
					classes += s[report.ClassAttr(c)].(float64)
				}
				if classes != s["gpu_span_ns"].(float64) {
					t.Errorf("steps[%d]: gpu_time by class %v, GPU spans %v", i, classes, s["gpu_span_ns"])
				}
			}
			if fi, err := os.Stat(html); err != nil || fi.Size() == 0 {
				t.Errorf("no HTML: %v", err)
			}
		})
	}
}

// TestInspectRequestsLikeConvert: inspect reads --requests as convert does,
// so a gzip-compressed log found by a glob gives the report the bundled
// example's golden has for the plain log.
func TestInspectRequestsLikeConvert(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vllm.jsonl.gz"), testkit.Gzip(t, testkit.ReadFile(t, exampleRequests)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain("inspect", "--json", "--requests", filepath.Join(dir, "*.jsonl.gz"), exampleTrace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "inspect-example.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(want) {
		t.Error("inspect --json with the log as a .gz found by a glob differs from the golden made from the plain log")
	}
}
