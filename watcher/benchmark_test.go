package watcher

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// tenThousandTraces is a directory of 10,000 small gzip trace files of
// eight ranks.
func tenThousandTraces(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	body := testkit.Gzip(b, traceJSON("bench", 1))
	for i := range 10_000 {
		p := filepath.Join(dir, traceName(i%8, 1795789272000000000+int64(i), true))
		if err := os.WriteFile(p, body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkRescan10k measures one rescan of a directory holding 10,000
// trace files the watcher already tracks (the steady state: list, lstat,
// parse the name, reconcile, budget snapshot).
func BenchmarkRescan10k(b *testing.B) {
	dir := tenThousandTraces(b)
	cfg := DefaultConfig()
	cfg.Dirs = []string{dir}
	cfg.StatePath = filepath.Join(b.TempDir(), "state.json")
	w, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	noWatch := func(string) {}
	w.rescan(ctx, noWatch) // first sight: 10k new entries
	if got := len(w.files); got != 10_000 {
		b.Fatalf("tracking %d files, want 10000", got)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.rescan(ctx, noWatch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/file")
}

// BenchmarkFirstScan10k measures discovering 10,000 new files: the scan
// plus settling bookkeeping, before any file is read.
func BenchmarkFirstScan10k(b *testing.B) {
	dir := tenThousandTraces(b)
	cfg := DefaultConfig()
	cfg.Dirs = []string{dir}
	cfg.StatePath = filepath.Join(b.TempDir(), "state.json")
	b.ReportAllocs()
	for b.Loop() {
		w, err := New(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		w.rescan(context.Background(), func(string) {})
	}
}

// BenchmarkFingerprintGzip measures the watcher's whole check of a .gz
// (gzip header, first 16 KiB inflated, trailer) on the real H100 trace.
func BenchmarkFingerprintGzip(b *testing.B) {
	p := filepath.Join("..", "testdata", "h100", "dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz")
	fi, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fingerprint(os.Open, p, true, fi.Size()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListFloor10k is the floor for a rescan: list the directory and
// lstat every entry, nothing else.
func BenchmarkListFloor10k(b *testing.B) {
	dir := tenThousandTraces(b)
	b.ReportAllocs()
	for b.Loop() {
		entries, err := os.ReadDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range entries {
			if _, err := e.Info(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/file")
}
