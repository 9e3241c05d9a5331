package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	cgOff = "../../../../profdiff/testdata/device/s1_L12_H2048_cg0.1796627324940205593.pt.trace.json.gz"
	cgOn  = "../../../../profdiff/testdata/device/s3_L12_H2048_cg1.1796627323973697038.pt.trace.json.gz"
)

func TestDiffCommand(t *testing.T) {
	html := filepath.Join(t.TempDir(), "diff.html")
	code, stdout, stderr := runMain("diff", "--json", "--html", html, cgOff, cgOn)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Changes []struct {
			Kind, Name  string
			StepKind    string `json:"step_kind"`
			DeltaNs     int64  `json:"delta_ns"`
			Significant bool
		}
		Base struct{ Files []string }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	if len(rep.Base.Files) != 1 || len(rep.Changes) == 0 || !rep.Changes[0].Significant {
		t.Fatalf("report: %+v", rep)
	}
	found := false
	for _, c := range rep.Changes {
		if c.Kind == "step" && c.Name == "cuda_launch" && c.Significant && c.DeltaNs < 0 {
			found = true
		}
	}
	if !found {
		t.Errorf("no significant fall of cuda_launch with CUDA graphs on")
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), "<!DOCTYPE html>") {
		t.Errorf("--html: %v, %d bytes", err, len(b))
	}
	// A directory side and the text report.
	code, stdout, stderr = runMain("diff", filepath.Dir(cgOff), cgOn)
	if code != 0 {
		t.Fatalf("directory side: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "summary:") || !strings.Contains(stdout, "cuda_launch") {
		t.Errorf("text report:\n%s", stdout)
	}
}

func TestDiffUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"diff"}, {"diff", cgOff}, {"diff", "--nope", cgOff, cgOn}} {
		if code, _, _ := runMain(args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if code, _, stderr := runMain("diff", cgOff, "/does/not/exist"); code == 0 || !strings.Contains(stderr, "/does/not/exist") {
		t.Errorf("missing side: exit %d, stderr %q", code, stderr)
	}
}
