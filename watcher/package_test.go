package watcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestMain fails the package if any test leaves a goroutine running (a
// watcher's loop, an fsnotify reader).
func TestMain(m *testing.M) { os.Exit(testkit.RunTests(m)) }

// testLogger sends the watcher's logs to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testConfig is a fast configuration over dir, with the state file
// outside it.
func testConfig(t *testing.T, dir string) Config {
	cfg := DefaultConfig()
	cfg.Dirs = []string{dir}
	cfg.SettleTime = 60 * time.Millisecond
	cfg.RescanInterval = 150 * time.Millisecond
	cfg.RetryBackoff = Backoff{Initial: 40 * time.Millisecond, Max: 200 * time.Millisecond}
	cfg.StatePath = filepath.Join(t.TempDir(), "state", "state.json")
	return cfg
}

// running is a Watcher whose Run goroutine the test owns.
type running struct {
	*Watcher
	run *testkit.Background
}

func start(t *testing.T, cfg Config, tweak ...func(*Watcher)) *running {
	t.Helper()
	w, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tweak {
		f(w)
	}
	return &running{Watcher: w, run: testkit.Go(t, "Run", 5*time.Second, w.Run)}
}

// stop ends Run and waits for it; it may be called more than once.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.run.Stop(t)
}

// next waits up to d for a file.
func (r *running) next(t *testing.T, d time.Duration) (File, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	f, err := r.Next(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return File{}, false
	}
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return f, true
}

func (r *running) mustNext(t *testing.T) File {
	t.Helper()
	f, ok := r.next(t, 5*time.Second)
	if !ok {
		t.Fatalf("no file offered within 5s; stats %+v", r.Stats())
	}
	return f
}

// offerOne puts one .gz trace (rank 0, n events named what) into dir,
// starts a watcher with cfg and takes its offer of that file.
func offerOne(t *testing.T, dir string, cfg Config, what string, n int) (string, *running, File) {
	t.Helper()
	p := put(t, dir, traceName(0, 1795789272000000001, true), testkit.Gzip(t, traceJSON(what, n)))
	w := start(t, cfg)
	return p, w, w.mustOffer(t, p)
}

// mustOffer waits for the next offer and fails t unless it is path.
func (r *running) mustOffer(t *testing.T, path string) File {
	t.Helper()
	f := r.mustNext(t)
	if f.Path != path {
		t.Fatalf("offered %s, want %s", f.Path, path)
	}
	return f
}

// mustDone settles f as exported, failing t on an error.
func (r *running) mustDone(t *testing.T, f File) {
	t.Helper()
	if err := r.Done(f); err != nil {
		t.Fatalf("Done(%s): %v", f.Path, err)
	}
}

// expectNone asserts nothing is offered for d.
func (r *running) expectNone(t *testing.T, d time.Duration) {
	t.Helper()
	if f, ok := r.next(t, d); ok {
		t.Fatalf("unexpected offer of %s (attempt %d)", f.Path, f.Attempt)
	}
}

// traceJSON is a small, complete Kineto-shaped document with a marker that
// makes its content unique.
func traceJSON(marker string, pad int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"schemaVersion\": 1,\n  \"traceName\": %q,\n  \"traceEvents\": [\n", marker)
	for i := 0; i < pad; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `  {"ph": "X", "cat": "kernel", "name": "k%d_%s", "ts": %d.%03d, "dur": 1.5}`, i, marker, 1000+i, i%1000)
	}
	b.WriteString("\n  ]\n}\n")
	return b.Bytes()
}

// traceName builds a v0.17 name with the given export timestamp.
func traceName(rank int, stamp int64, gzipped bool) string {
	n := fmt.Sprintf("dp0_pp0_tp%d_dcp0_ep0_rank%d.%d.pt.trace.json", rank, rank, stamp)
	if gzipped {
		n += ".gz"
	}
	return n
}

// newDir is a fresh profiler directory and testConfig over it.
func newDir(t *testing.T) (string, Config) {
	dir := t.TempDir()
	return dir, testConfig(t, dir)
}

// put writes data as the file name in dir and returns its path.
func put(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	write(t, p, data)
	return p
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// age sets a file's mtime d in the past, so it counts as settled at once.
func age(t testing.TB, path string, d time.Duration) {
	t.Helper()
	when := time.Now().Add(-d)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
