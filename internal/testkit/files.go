package testkit

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
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
	WriteClose(t, "gzip", gzip.NewWriter(&out), b)
	return out.Bytes()
}

// WriteClose writes b to w and closes it, failing t (the message starts
// with what) if either fails: the end of every test helper that fills a
// file or a compressor.
func WriteClose(t testing.TB, what string, w io.WriteCloser, b []byte) {
	t.Helper()
	if _, err := w.Write(b); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Gunzip returns b inflated (compress/gzip, every member), failing t if b
// is not gzip.
func Gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// Glob returns the files matching each pattern (filepath.Glob), in order,
// failing t when a pattern matches nothing: a test over fixtures must not
// pass by finding none.
func Glob(t testing.TB, patterns ...string) []string {
	t.Helper()
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil || len(m) == 0 {
			t.Fatalf("no test inputs match %s (%v)", p, err)
		}
		files = append(files, m...)
	}
	return files
}
