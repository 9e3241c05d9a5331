package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/convtest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// smallTrace is a real 3-step slice of the H100 fixture (make_small_trace.py).
const smallTrace = "../../../../testdata/h100-small/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz"

// TestMain lets a test run this test binary as the daemon in a child
// process (for kill -9), with the arguments in BRIDGE_TEST_ARGS; otherwise
// it runs the tests and fails the run if a goroutine outlives them.
func TestMain(m *testing.M) {
	if os.Getenv("BRIDGE_TEST_DAEMON") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Main(ctx, strings.Split(os.Getenv("BRIDGE_TEST_ARGS"), "\x1f"), os.Stdout, os.Stderr, os.Getenv)
		stop()
		os.Exit(code)
	}
	os.Exit(testkit.RunTests(m))
}

func startCollector(t *testing.T) *otlptest.Collector {
	t.Helper()
	return testkit.StartCollector(t, otlptest.Options{})
}

// daemonArgs are testkit.DaemonArgs against collector c, with a 300 ms
// settle time and warnings only.
func daemonArgs(dir, state string, c *otlptest.Collector, extra ...string) []string {
	return testkit.DaemonArgs(dir, state, c.GRPCEndpoint(), append([]string{"--settle-time", "300ms", "--log-level", "warn"}, extra...)...)
}

// inProcess runs the daemon in this process until stop is called.
type inProcess struct {
	run *testkit.Background
	out *testkit.SyncBuffer
}

func startDaemon(t *testing.T, args []string) *inProcess {
	t.Helper()
	p := &inProcess{out: &testkit.SyncBuffer{}}
	// Registered before Go's stop, so it runs after it (cleanups run last
	// first) and sees a failure of the shutdown too.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon output:\n%s", p.out.String())
		}
	})
	p.run = testkit.Go(t, "the daemon", 30*time.Second, func(ctx context.Context) error {
		if code := Main(ctx, args, io.Discard, p.out, func(string) string { return "" }); code != 0 {
			return fmt.Errorf("exit %d", code)
		}
		return nil
	})
	return p
}

func (p *inProcess) stop(t *testing.T) { p.run.Stop(t) }

// writeInChunks writes src to dst in place, as PyTorch's gzip export does,
// pausing between chunks; one pause is longer than the settle time, so the
// watcher sees a stable but incomplete gzip stream.
func writeInChunks(t *testing.T, src, dst string, beforeLast func()) {
	t.Helper()
	data := testkit.ReadFile(t, src)
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 32 << 10
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		if end == len(data) && beforeLast != nil {
			beforeLast()
		}
		if _, err := f.Write(data[off:end]); err != nil {
			t.Fatal(err)
		}
		if off == 2*chunk {
			time.Sleep(900 * time.Millisecond) // longer than the settle time
		} else {
			time.Sleep(60 * time.Millisecond)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRunExportsGrowingGzipOnceAndRestartSendsNothing(t *testing.T) {
	want := convtest.SpanIDs(t, smallTrace)
	c := startCollector(t)
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	d := startDaemon(t, daemonArgs(dir, state, c))

	dst := filepath.Join(dir, filepath.Base(smallTrace))
	writeInChunks(t, smallTrace, dst, func() {
		if n := c.Stats().Spans; n != 0 {
			t.Errorf("%d spans exported before the file was complete", n)
		}
	})
	testkit.WaitFor(t, "every span", 60*time.Second, func() bool { _, n := c.SpanIDs(); return n >= len(want) })
	time.Sleep(1500 * time.Millisecond) // several rescans: nothing more may come
	got, total := c.SpanIDs()
	if total != len(want) || len(got) != len(want) {
		t.Fatalf("got %d spans (%d distinct), want exactly %d once", total, len(got), len(want))
	}
	for id := range want {
		if got[id] != 1 {
			t.Fatalf("span %s delivered %d times", id, got[id])
		}
	}
	d.stop(t)

	// A restart with the same state file sends nothing new.
	startDaemon(t, daemonArgs(dir, state, c))
	time.Sleep(2 * time.Second)
	if _, n := c.SpanIDs(); n != total {
		t.Fatalf("restart sent %d more spans", n-total)
	}
}

func TestRunEndpointDownThenUpLosesNothing(t *testing.T) {
	want := convtest.SpanIDs(t, smallTrace)
	c := startCollector(t)
	c.Down()
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	startDaemon(t, daemonArgs(dir, state, c))
	testkit.PlaceFile(t, filepath.Join(dir, filepath.Base(smallTrace)), testkit.ReadFile(t, smallTrace))
	time.Sleep(3 * time.Second)
	if b, _ := os.ReadFile(state); bytes.Contains(b, []byte(`"exported"`)) {
		t.Fatal("file recorded as exported while the backend was down")
	}
	if err := c.Up(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "every span after the backend came back", 60*time.Second, func() bool {
		got, _ := c.SpanIDs()
		return len(got) == len(want)
	})
	got, _ := c.SpanIDs()
	for id := range want {
		if got[id] == 0 {
			t.Fatalf("span %s lost", id)
		}
	}
	testkit.WaitFor(t, "the state file to record the export", 30*time.Second, func() bool {
		b, _ := os.ReadFile(state)
		return bytes.Contains(b, []byte(`"exported"`))
	})
}

func TestRunCorruptFilesFailAlone(t *testing.T) {
	want := convtest.SpanIDs(t, smallTrace)
	c := startCollector(t)
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	bad := map[string][]byte{
		"dp0_pp0_tp0_dcp0_ep0_rank1.1795789278257156268.pt.trace.json.gz": gz(`{"traceEvents": 5}`),
		"dp0_pp0_tp0_dcp0_ep0_rank2.1795789278257156269.pt.trace.json.gz": gz(`{"traceEvents": [{"ph": "X", "ts": }]}`),
		"dp0_pp0_tp0_dcp0_ep0_rank3.1795789278257156270.pt.trace.json":    []byte("\x00\x01binary junk that is not JSON\xff"),
	}
	for name, b := range bad {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testkit.PlaceFile(t, filepath.Join(dir, filepath.Base(smallTrace)), testkit.ReadFile(t, smallTrace))
	startDaemon(t, daemonArgs(dir, state, c, "--log-level", "info"))
	testkit.WaitFor(t, "the good file's spans", 60*time.Second, func() bool { got, _ := c.SpanIDs(); return len(got) == len(want) })
	testkit.WaitFor(t, "the bad files in failed/", 30*time.Second, func() bool {
		for name := range bad {
			if _, err := os.Stat(filepath.Join(dir, "failed", name)); err != nil {
				return false
			}
		}
		return true
	})
	if _, err := os.Stat(filepath.Join(dir, filepath.Base(smallTrace))); err != nil {
		t.Fatalf("the good file should stay in place (after_export=keep): %v", err)
	}
}

// TestRunKill9MidExportDeliversEverything kills the daemon with SIGKILL in
// the middle of exporting a file, restarts it, and checks that every span
// arrived with the same ids (a backend keeps one copy).
func TestRunKill9MidExportDeliversEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	want := convtest.SpanIDs(t, smallTrace)
	c := startCollector(t)
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	testkit.PlaceFile(t, filepath.Join(dir, filepath.Base(smallTrace)), testkit.ReadFile(t, smallTrace))
	// Small requests and a slow backend: the export takes seconds.
	args := daemonArgs(dir, state, c, "--max-request-bytes", "64KiB", "--max-in-flight", "1")
	kills := 0
	for round := 0; round < 3; round++ {
		c.SetDelay(150 * time.Millisecond)
		before := c.Stats().Requests
		cmd := childDaemon(t, args)
		testkit.WaitFor(t, "the export to start", 60*time.Second, func() bool { return c.Stats().Requests >= before+2 })
		if !cmd.Alive() {
			t.Fatalf("daemon exited before the kill: %v", cmd.Wait())
		}
		cmd.Kill()
		kills++
		got, _ := c.SpanIDs()
		if len(got) == len(want) {
			break
		}
	}
	c.SetDelay(0)
	cmd := childDaemon(t, args)
	defer cmd.Stop(t)
	testkit.WaitFor(t, "every span after restart", 90*time.Second, func() bool { got, _ := c.SpanIDs(); return len(got) >= len(want) })
	got, total := c.SpanIDs()
	for id := range want {
		if got[id] == 0 {
			t.Fatalf("span %s lost after kill -9", id)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d distinct span ids, want %d: a restart must reuse the same ids", len(got), len(want))
	}
	t.Logf("%d kill -9 during export; %d spans delivered for %d distinct (re-sent after the kills: %d)", kills, total, len(want), total-len(want))
}

// childDaemon runs this test binary as the daemon (see TestMain) in a
// child process.
func childDaemon(t *testing.T, args []string) *testkit.Process {
	t.Helper()
	return testkit.StartProcess(t, os.Args[0], []string{"-test.run=^$"}, testkit.ProcessOptions{
		Env: append(os.Environ(), "BRIDGE_TEST_DAEMON=1", "BRIDGE_TEST_ARGS="+strings.Join(args, "\x1f")),
	})
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}
