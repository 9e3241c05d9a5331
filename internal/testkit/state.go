package testkit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// StateRecords reads the daemon's state file at path and returns the base
// name of each trace file it records → that file's status ("exported",
// "failed", …). Before the daemon first writes the file (it cannot be read)
// it returns nil. The daemon replaces the file by a rename, so a file that
// does not decode fails t.
func StateRecords(t testing.TB, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var doc struct {
		Records []struct {
			Path   string `json:"path"`
			Status string `json:"status"`
		} `json:"records"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("state file %s: %v", path, err)
	}
	out := map[string]string{}
	for _, r := range doc.Records {
		out[filepath.Base(r.Path)] = r.Status
	}
	return out
}
