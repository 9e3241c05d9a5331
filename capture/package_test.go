package capture

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestMain fails the package if a test leaves a goroutine running (a
// controller loop above all); it also runs the crash-test child (see
// crash_test.go).
func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(testkit.RunTests(m))
}

// testLogger sends logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// fakeClock is a manual clock: timers fire only in Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk  *fakeClock
	c    chan time.Time
	at   time.Time
	done bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{clk: f, c: make(chan time.Time, 1), at: f.now.Add(d)}
	if d <= 0 {
		t.c <- f.now
		t.done = true
		return t
	}
	f.timers = append(f.timers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	for i, x := range t.clk.timers {
		if x == t {
			t.clk.timers = append(t.clk.timers[:i], t.clk.timers[i+1:]...)
			break
		}
	}
	return true
}

// Advance moves the clock and fires the timers now due; it returns how
// many fired.
func (f *fakeClock) Advance(d time.Duration) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	keep := f.timers[:0]
	fired := 0
	for _, t := range f.timers {
		if !t.at.After(f.now) {
			t.c <- f.now
			t.done = true
			fired++
			continue
		}
		keep = append(keep, t)
	}
	f.timers = keep
	return fired
}

// harness runs a Controller against a stand-in vLLM on a fake clock.
type harness struct {
	t     *testing.T
	clk   *fakeClock
	vllm  *standin
	dir   string
	state string
	cfg   Config
	ctrl  *Controller
	idle  chan struct{}
	bg    *testkit.Background // Run, once run was called

	mu     sync.Mutex
	sleeps []time.Duration
}

// newHarness builds a controller; edit changes the config (the defaults
// are a fast test configuration) before New.
func newHarness(t *testing.T, sv *standin, edit func(*Config, *Options)) *harness {
	t.Helper()
	h := &harness{t: t, clk: sv.clk.(*fakeClock), vllm: sv, dir: sv.dir, idle: make(chan struct{}, 1)}
	h.state = t.TempDir() + "/capture-state.json"
	cfg := DefaultConfig()
	cfg.VLLMURL = sv.URL()
	cfg.StateFile = h.state
	cfg.FileGrace = 5 * time.Second
	cfg.StartTimeout = 5 * time.Second
	cfg.StopTimeout = 10 * time.Second
	opts := Options{Logger: testLogger(t), Clock: h.clk, ProfilerDirs: []string{sv.dir}, Getenv: func(string) string { return "" }}
	if edit != nil {
		edit(&cfg, &opts)
	}
	opts.idle = func() {
		select {
		case h.idle <- struct{}{}:
		default:
		}
	}
	opts.sleep = func(ctx context.Context, d time.Duration) error {
		h.mu.Lock()
		h.sleeps = append(h.sleeps, d)
		h.mu.Unlock()
		h.clk.Advance(d)
		return ctx.Err()
	}
	h.cfg = cfg
	ctrl, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.ctrl = ctrl
	return h
}

// run starts Run and waits until the loop first waits.
func (h *harness) run() {
	h.t.Helper()
	h.bg = testkit.Go(h.t, "Run", 20*time.Second, h.ctrl.Run)
	h.waitIdle()
}

// shutdown cancels Run (SIGTERM) and waits for it to return.
func (h *harness) shutdown() {
	h.t.Helper()
	if h.bg != nil {
		h.bg.Stop(h.t)
	}
}

func (h *harness) drain() {
	select {
	case <-h.idle:
	default:
	}
}

func (h *harness) waitIdle() {
	h.t.Helper()
	select {
	case <-h.idle:
	case <-time.After(20 * time.Second):
		h.t.Fatal("controller loop did not go idle within 20s")
	}
}

// advance moves the fake clock by d and, if that woke the loop, waits
// until it waits again.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.drain()
	if h.clk.Advance(d) > 0 {
		h.waitIdle()
	}
}

// request is an on-demand capture through the controller; it waits until
// the loop has acted on it.
func (h *harness) request(d time.Duration) (Capture, error) {
	h.t.Helper()
	h.drain()
	cp, err := h.ctrl.Request(context.Background(), d)
	if err == nil {
		h.waitIdle()
	}
	return cp, err
}

func (h *harness) get(id string) Capture {
	h.t.Helper()
	cp, ok := h.ctrl.Get(id)
	if !ok {
		h.t.Fatalf("capture %s unknown", id)
	}
	return cp
}

// capturedLogger keeps what is logged, for tests that check what must
// never be logged.
func capturedLogger() (*slog.Logger, func() string) {
	lw := &lockedWriter{w: &bytes.Buffer{}}
	return slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelDebug})), func() string {
		lw.mu.Lock()
		defer lw.mu.Unlock()
		return lw.w.String()
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
