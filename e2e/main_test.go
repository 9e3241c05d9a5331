//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
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
		if err := testkit.BuildBridge(bridgeBin); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 2
		}
		fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", bridgeBin, time.Since(start).Round(time.Millisecond))
	}
	return testkit.RunTests(m)
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
		t.Fatalf("vllm-otel-bridge %s: %v\nstderr:\n%s", strings.Join(args, " "), err, testkit.Tail(stderr.String(), 4000))
	}
	return stdout.Bytes()
}

// convertToFile runs `convert -o out` with args and returns the spans it
// wrote.
func convertToFile(t *testing.T, out string, args ...string) []Span {
	t.Helper()
	runBridge(t, 3*time.Minute, append([]string{"convert", "-o", out}, args...)...)
	spans, err := readOTLPJSONLines(out)
	if err != nil {
		t.Fatalf("reading what convert -o wrote: %v", err)
	}
	return spans
}

func exitText(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// daemon is a running `vllm-otel-bridge run`.
type daemon struct {
	*testkit.Process
	metrics string // host:port of /metrics /healthz /readyz
}

// startDaemon starts `vllm-otel-bridge run` with args plus its own metrics
// address and debug logs, waits for /readyz, and stops it with SIGTERM when
// the test ends, failing the test unless it exits 0 (its output is logged
// if the test failed).
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	return startDaemonWithEnv(t, nil, args...)
}

// startDaemonWithEnv is startDaemon with extra environment variables.
func startDaemonWithEnv(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{metrics: testkit.FreeAddr(t)}
	args = append([]string{"run", "--metrics-addr", d.metrics, "--log-level", "debug"}, args...)
	d.Process = testkit.StartProcess(t, bridgeBin, args, testkit.ProcessOptions{Env: append(os.Environ(), env...)})
	t.Logf("started vllm-otel-bridge %s (pid %d)", strings.Join(args, " "), d.Pid())
	t.Cleanup(func() { d.Stop(t) })
	d.waitReady(t, 30*time.Second)
	return d
}

// waitReady polls /readyz until it answers 200 or the daemon exits.
func (d *daemon) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-d.Done():
			t.Fatalf("bridge exited before it was ready: %v\n%s", d.Wait(), testkit.Tail(d.Output(), 4000))
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
