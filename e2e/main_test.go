//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bridgeBin is the bridge binary under test; jaegerAPI the Jaeger in use.
var (
	bridgeBin string
	jaegerAPI *jaeger
)

func getenv(k string) string { return os.Getenv(k) }

func TestMain(m *testing.M) {
	os.Exit(mainWithCleanup(m))
}

func mainWithCleanup(m *testing.M) int {
	var err error
	if jaegerAPI, err = jaegerFromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := jaegerAPI.Services(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: Jaeger query API at %s does not answer: %v\n", jaegerAPI.query, err)
		return 2
	}
	if bridgeBin = getenv("BRIDGE_BIN"); bridgeBin == "" {
		dir, err := os.MkdirTemp("", "vllm-otel-bridge-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 2
		}
		defer os.RemoveAll(dir)
		bridgeBin = filepath.Join(dir, "vllm-otel-bridge")
		start := time.Now()
		cmd := exec.Command("go", "build", "-o", bridgeBin, "./cmd/vllm-otel-bridge")
		cmd.Dir = ".."
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/vllm-otel-bridge: %v\n", err)
			return 2
		}
		fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", bridgeBin, time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

// uniqueName returns a service name no other test run uses.
func uniqueName(t *testing.T, prefix string) string {
	return fmt.Sprintf("%s-%d-%s", prefix, time.Now().Unix(), randHex(3))
}

// runBridge runs the bridge to completion and returns its stdout; it fails
// the test with stderr on a non-zero exit.
func runBridge(t *testing.T, timeout time.Duration, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bridgeBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("vllm-otel-bridge %s: %v in %v", strings.Join(args, " "), exitText(err), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("vllm-otel-bridge %s: %v\nstderr:\n%s", strings.Join(args, " "), err, tail(stderr.Bytes(), 4000))
	}
	return stdout.Bytes()
}

func exitText(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return append([]byte("…"), b[len(b)-n:]...)
	}
	return b
}

// daemon is a running `vllm-otel-bridge run`.
type daemon struct {
	cmd     *exec.Cmd
	logPath string
	metrics string // host:port of /metrics /healthz /readyz
	done    chan error
	once    sync.Once
	err     error
}

// startDaemon starts `vllm-otel-bridge run` with args plus its own metrics
// address, logs to a file in the test's temp dir, waits for /readyz, and
// stops it (SIGTERM, then SIGKILL) when the test ends, printing its log if
// the test failed.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	return startDaemonWithEnv(t, nil, args...)
}

// startDaemonWithEnv is startDaemon with extra environment variables.
func startDaemonWithEnv(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{
		logPath: filepath.Join(t.TempDir(), "bridge.log"),
		metrics: freeAddr(t),
		done:    make(chan error, 1),
	}
	logf, err := os.Create(d.logPath)
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"run", "--metrics-addr", d.metrics, "--log-level", "debug"}, args...)
	d.cmd = exec.Command(bridgeBin, args...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.Env = append(os.Environ(), env...)
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start bridge: %v", err)
	}
	t.Logf("started vllm-otel-bridge %s (pid %d)", strings.Join(args, " "), d.cmd.Process.Pid)
	go func() { d.done <- d.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			b, _ := os.ReadFile(d.logPath)
			t.Logf("bridge log (%s):\n%s", d.logPath, tail(b, 8000))
		}
	})
	d.waitReady(t, 30*time.Second)
	return d
}

// waitReady polls /readyz until it answers 200 or the daemon exits.
func (d *daemon) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-d.done:
			d.done <- err
			b, _ := os.ReadFile(d.logPath)
			t.Fatalf("bridge exited before it was ready: %v\n%s", err, tail(b, 4000))
		default:
		}
		resp, err := http.Get("http://" + d.metrics + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge /readyz at %s not OK after %v (last error %v)", d.metrics, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits up to 20 s before killing; it reports a
// non-zero exit after SIGTERM as a test error (the daemon must shut down
// cleanly).
func (d *daemon) stop(t *testing.T) {
	d.once.Do(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case d.err = <-d.done:
		case <-time.After(20 * time.Second):
			_ = d.cmd.Process.Kill()
			d.err = errors.New("did not exit within 20s of SIGTERM; killed")
			<-d.done
		}
		if d.err != nil {
			t.Errorf("bridge shutdown: %v", d.err)
		}
	})
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// appendSlowly appends data to path in n chunks with a pause between them,
// as vLLM's gzip writer and its logger do.
func appendSlowly(t *testing.T, path string, data []byte, n int, pause time.Duration) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := (len(data) + n - 1) / n
	for off := 0; off < len(data); off += size {
		end := min(off+size, len(data))
		if _, err := f.Write(data[off:end]); err != nil {
			t.Fatal(err)
		}
		if end < len(data) {
			time.Sleep(pause)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}
