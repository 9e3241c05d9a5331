package reliability

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
)

// smallTrace is a real 3-step slice of the H100 fixture (the same file the
// daemon tests of cmd/vllm-otel-bridge use).
const smallTrace = "testdata/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz"

// bridgeBin is the daemon binary TestMain builds; tests only read it.
var bridgeBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "reliability-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Readable by every user: the permission test runs the daemon as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		return 1
	}
	bridgeBin = filepath.Join(dir, "vllm-otel-bridge")
	build := exec.Command("go", "build", "-o", bridgeBin, "./cmd/vllm-otel-bridge")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "reliability: building the daemon: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func longTests() bool { return os.Getenv("BRIDGE_LONG_TESTS") == "1" }

// syncBuffer collects a child's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// child is one run of the bridge binary.
type child struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	waited error
	peakKB atomic.Int64 // highest VmHWM read from /proc while it ran
}

// startChild runs the binary with args; cleanup kills it if still running.
func startChild(t *testing.T, args []string, cred *syscall.Credential) *child {
	t.Helper()
	cmd := exec.Command(bridgeBin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	// A non-root user is already bound by permission bits and may not
	// change its uid; root drops to cred so that they apply.
	if cred != nil && os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	c := &child{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	// rusage's Maxrss is useless here: Linux carries the parent's high
	// water mark over fork and exec. VmHWM belongs to the new image.
	go func() {
		for c.alive() {
			if kb := c.vmHWM(); kb > c.peakKB.Load() {
				c.peakKB.Store(kb)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	go func() {
		c.waited = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.kill()
		if d := os.Getenv("RELIABILITY_LOG_DIR"); d != "" {
			_ = os.WriteFile(filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_")+".log"), []byte(c.out.String()), 0o644)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", strings.Join(args, " "), tail(c.out.String(), 6000))
		}
	})
	return c
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (c *child) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and reaps the child.
func (c *child) kill() {
	if c.alive() {
		_ = c.cmd.Process.Kill()
	}
	<-c.done
}

// stop sends SIGTERM and waits for a clean exit.
func (c *child) stop(t *testing.T) {
	t.Helper()
	if !c.alive() {
		t.Fatalf("daemon had already exited (%v):\n%s", c.waited, tail(c.out.String(), 4000))
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.kill()
		t.Fatalf("daemon did not stop within 30s after SIGTERM")
	}
	if c.waited != nil {
		t.Errorf("daemon exited with %v:\n%s", c.waited, tail(c.out.String(), 4000))
	}
}

// vmHWM reads the running child's peak resident set from /proc.
func (c *child) vmHWM() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return -1
}

func startCollector(t *testing.T, opts otlptest.Options) *otlptest.Collector {
	t.Helper()
	c, err := otlptest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// daemonArgs are the flags every daemon here runs with: fast timers, a
// loopback gRPC collector, no telemetry port, truncated files failed fast.
func daemonArgs(dir, state string, c *otlptest.Collector, extra ...string) []string {
	return append([]string{"run",
		"--profiler-dir", dir, "--state-file", state,
		"--endpoint", c.GRPCEndpoint(), "--protocol", "grpc", "--insecure",
		"--settle-time", "200ms", "--rescan-interval", "200ms",
		"--retry-initial-interval", "50ms", "--retry-max-interval", "300ms",
		"--max-truncated-attempts", "2", "--max-truncated-age", "1s",
		"--metrics-addr", "", "--log-level", "info", "--shutdown-timeout", "10s",
	}, extra...)
}

// checkAllDelivered fails unless every wanted id arrived and no other id did.
func checkAllDelivered(t *testing.T, want map[string]bool, got map[string]int) {
	t.Helper()
	for id := range want {
		if got[id] == 0 {
			t.Fatalf("span %s lost (%d of %d distinct ids arrived)", id, len(got), len(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d distinct span ids arrived, want %d: ids must be identical across runs", len(got), len(want))
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// placeFile writes b to dst by rename, as a finished profiler file appears.
func placeFile(t *testing.T, dst string, b []byte) {
	t.Helper()
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// heapPeak runs fn while sampling the Go heap every millisecond and returns
// the highest live heap seen above the level before fn.
func heapPeak(fn func()) (peak uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var hi uint64
		var s runtime.MemStats
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&s)
			hi = max(hi, s.HeapInuse)
			select {
			case <-stop:
				done <- hi
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(stop)
	hi := <-done
	if hi < base {
		return 0
	}
	return hi - base
}

const mib = 1 << 20

// otlptestOptions: a collector accepting requests up to 256 MiB, so the
// limit under test is the daemon's, not the collector's.
func otlptestOptions() otlptest.Options { return otlptest.Options{MaxRecvBytes: 256 * mib} }

// nobody is the credential of tests that need permission bits to matter
// (tests run as root, whom they do not stop).
var nobody = &syscall.Credential{Uid: 65534, Gid: 65534}

// sharedDir is a fresh directory with mode perm whose parents user nobody
// can traverse (t.TempDir's parents are private to root).
func sharedDir(t *testing.T, perm os.FileMode) string {
	t.Helper()
	d, err := os.MkdirTemp("", "reliability-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	if err := os.Chmod(d, perm); err != nil {
		t.Fatal(err)
	}
	return d
}
