package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// smallTrace is a real 3-step slice of the H100 fixture, shared with the
// daemon tests of cmd/vllm-otel-bridge.
const smallTrace = "../testdata/h100-small/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz"

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
	if err := testkit.BuildBridge(bridgeBin); err != nil {
		fmt.Fprintln(os.Stderr, "reliability: building the daemon:", err)
		return 1
	}
	return testkit.RunTests(m)
}

func longTests() bool { return os.Getenv("BRIDGE_LONG_TESTS") == "1" }

// startChild runs the bridge binary with args and a minimal environment,
// as cred where permission bits must apply, sampling its peak RSS;
// RELIABILITY_LOG_DIR=DIR keeps each child's output there.
func startChild(t *testing.T, args []string, cred *syscall.Credential) *testkit.Process {
	t.Helper()
	return testkit.StartProcess(t, bridgeBin, args, testkit.ProcessOptions{
		Env:        []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()},
		Credential: cred,
		SampleRSS:  true,
		LogDir:     os.Getenv("RELIABILITY_LOG_DIR"),
	})
}

// daemonArgs are testkit.DaemonArgs against collector c, with truncated
// files failed fast (two checks, one second).
func daemonArgs(dir, state string, c *otlptest.Collector, extra ...string) []string {
	return testkit.DaemonArgs(dir, state, c.GRPCEndpoint(),
		append([]string{"--max-truncated-attempts", "2", "--max-truncated-age", "1s"}, extra...)...)
}

// arrived is a condition for testkit.WaitFor: every id of want is at c.
func arrived(c *otlptest.Collector, want map[string]bool) func() bool {
	return func() bool {
		got, _ := c.SpanIDs()
		for id := range want {
			if got[id] == 0 {
				return false
			}
		}
		return true
	}
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
