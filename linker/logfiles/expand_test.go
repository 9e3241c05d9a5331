package logfiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStem(t *testing.T) {
	for in, want := range map[string]string{
		"/logs/bench-7.log":                  "bench-7",
		"/logs/bench-7.log.1":                "bench-7",
		"/logs/bench-7.log.2.gz":             "bench-7",
		"/logs/tenant.a.jsonl":               "tenant.a",
		"/logs/run-20261207.log-20261208":    "run-20261207",
		"/logs/0.log.20261207-032251.gz":     "0",
		"/logs/job-42":                       "job-42",
		"/logs/job-42.out":                   "job-42",
		"/logs/.log":                         ".log",
		"/logs/task.1":                       "task.1",
		"/var/log/pods/ns_p_u/vllm/1.log.gz": "1",
	} {
		if got := stem(in); got != want {
			t.Errorf("stem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		"vllm.log", "vllm.log.1", "vllm.log.2.gz", "vllm.log-20261207", "vllm.log.20261207-032251.gz",
		"vllm.log.bak", "vllm.logger", "other.txt", ".hidden.log", "sub/task-1.log", ".git/x.log",
	} {
		writeFile(t, filepath.Join(dir, name), "x\n")
	}
	rel := func(cs []candidate) string {
		var out []string
		for _, c := range cs {
			r, _ := filepath.Rel(dir, c.path)
			if c.inFolder {
				r += "(folder)"
			}
			out = append(out, r)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		patterns []string
		rotated  bool
		want     string
	}{
		{[]string{filepath.Join(dir, "vllm.log")}, false, "vllm.log"},
		{[]string{filepath.Join(dir, "vllm.log")}, true, "vllm.log vllm.log-20261207 vllm.log.1 vllm.log.2.gz vllm.log.20261207-032251.gz"},
		{[]string{filepath.Join(dir, "*.log")}, false, "vllm.log"},
		{[]string{filepath.Join(dir, "*", "*.log")}, false, "sub/task-1.log"},
		{[]string{dir}, false, "other.txt(folder) sub/task-1.log(folder) vllm.log(folder) vllm.log-20261207(folder) vllm.log.1(folder) vllm.log.2.gz(folder) vllm.log.20261207-032251.gz(folder) vllm.log.bak(folder) vllm.logger(folder)"},
		{[]string{filepath.Join(dir, "missing.log")}, true, ""},
	}
	for _, tc := range tests {
		files, dirs := expand(tc.patterns, tc.rotated)
		if got := rel(files); got != tc.want {
			t.Errorf("expand(%v, rotated=%v) = %q, want %q", tc.patterns, tc.rotated, got, tc.want)
		}
		if len(dirs) == 0 {
			t.Errorf("expand(%v): no folder to watch", tc.patterns)
		}
	}
	// The live file missing (renamed, not yet re-created): its rotated
	// siblings still count.
	if err := os.Remove(filepath.Join(dir, "vllm.log")); err != nil {
		t.Fatal(err)
	}
	files, _ := expand([]string{filepath.Join(dir, "vllm.log")}, true)
	if got := rel(files); got != "vllm.log-20261207 vllm.log.1 vllm.log.2.gz vllm.log.20261207-032251.gz" {
		t.Errorf("siblings of a missing file: %q", got)
	}
}
