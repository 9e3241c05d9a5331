package logfiles

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
)

func TestMain(m *testing.M) { os.Exit(testkit.RunTests(m)) }

// base is the time of the test logs' first line.
var base = time.Date(2026, 12, 7, 3, 22, 51, 0, time.UTC)

// textLine is one line of vLLM's default text log at base+sec.
func textLine(sec int, msg string) string {
	return fmt.Sprintf("(APIServer pid=7) INFO %s [logger.py:63] %s\n", base.Add(time.Duration(sec)*time.Second).Format("01-02 15:04:05"), msg)
}

func received(id string) string {
	return "Received request " + id + ": params: SamplingParams(n=1, temperature=1.0, top_p=1.0, max_tokens=16), lora_request: None."
}

func generated(id string) string {
	return "Generated response " + id + ": output: 'a secret answer', output_token_ids: [1, 2, 3], finish_reason: stop"
}

// request is a request's two lines, sec seconds after base.
func request(id string, sec int) string {
	return textLine(sec, received(id)) + textLine(sec+1, generated(id))
}

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteClose(t, path, f, []byte(s))
}

func testConfig(patterns ...string) Config {
	return Config{
		Patterns:       patterns,
		Rotated:        true,
		Text:           vllmlog.TextOptions{Year: 2026, Location: time.UTC},
		PollInterval:   5 * time.Millisecond,
		RescanInterval: 20 * time.Millisecond,
		IdleClose:      time.Second,
	}
}

type running struct {
	set  *Set
	tl   *linker.Timeline
	logs *testkit.SyncBuffer // the Set's log output
	stop func()
}

// newSet builds a Set on cfg with a fresh timeline, logging into a
// buffer the test can read; stop does nothing yet.
func newSet(t *testing.T, cfg Config) *running {
	t.Helper()
	r := &running{tl: linker.NewTimeline(linker.TimelineOptions{}), logs: &testkit.SyncBuffer{}, stop: func() {}}
	s, err := New(cfg, r.tl, slog.New(slog.NewTextHandler(r.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.set = s
	return r
}

// follow runs a Set on cfg until the test ends (or stop is called).
func follow(t *testing.T, cfg Config) *running {
	t.Helper()
	r := newSet(t, cfg)
	bg := testkit.Go(t, "Set.Run", 5*time.Second, r.set.Run)
	var once sync.Once
	r.stop = func() { once.Do(func() { bg.Stop(t) }) }
	t.Cleanup(r.stop)
	return r
}

// readOnce reads cfg's files with ReadOnce.
func readOnce(t *testing.T, cfg Config) *running {
	t.Helper()
	r := newSet(t, cfg)
	if err := r.set.ReadOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitFor polls cond until it holds or 10 s pass (a loaded CI machine).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, 10*time.Second, cond)
}

// finished reports whether the timeline knows id's arrival and finish.
func (r *running) finished(id string) bool {
	q, ok := r.tl.Request(id)
	return ok && q.Arrival != 0 && q.Finish != 0
}

func (r *running) waitRecords(t *testing.T, n int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d records", n), func() bool { return r.set.Stats().Records >= n })
}

// settle waits for a few rescans and checks that the record count stayed n.
func (r *running) expectRecords(t *testing.T, n int64) {
	t.Helper()
	r.waitRecords(t, n)
	time.Sleep(150 * time.Millisecond) // several rescans and polls
	if got := r.set.Stats().Records; got != n {
		t.Fatalf("%d records, want exactly %d (a file read twice?) stats %+v", got, n, r.set.Stats())
	}
}

func (r *running) warnings() int { return strings.Count(r.logs.String(), "request log input skipped") }
