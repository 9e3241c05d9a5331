package testkit

import (
	"bytes"
	"compress/gzip"
	"os"
	"testing"
)

// ReadFile returns the contents of path, failing t if it cannot be read.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading test input: %v", err)
	}
	return b
}

// PlaceFile writes b to dst through a temporary file beside it and a
// rename, so that a watcher sees the file appear complete, as a finished
// profiler file does.
func PlaceFile(t testing.TB, dst string, b []byte) {
	t.Helper()
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatalf("placing %s: %v", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatalf("placing %s: %v", dst, err)
	}
}

// Gzip returns b compressed as one gzip member (compress/gzip, default
// level).
func Gzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return out.Bytes()
}
