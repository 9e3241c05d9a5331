package testkit

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
)

// bridgePackage is the daemon's main package, by import path so that
// BuildBridge works from any directory inside the module.
const bridgePackage = "github.com/vllm-otel-bridge/vllm-otel-bridge/cmd/vllm-otel-bridge"

// BuildBridge builds the daemon binary to dst with the go command on PATH.
// It is meant for a TestMain (hence no testing.TB): the caller reports the
// error and exits.
func BuildBridge(dst string) error {
	cmd := exec.Command("go", "build", "-o", dst, bridgePackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s %s: %w\n%s", dst, bridgePackage, err, out)
	}
	return nil
}

// StartCollector starts an in-process OTLP collector on loopback and
// closes it when the test ends.
func StartCollector(t testing.TB, opts otlptest.Options) *otlptest.Collector {
	t.Helper()
	c, err := otlptest.Start(opts)
	if err != nil {
		t.Fatalf("starting the test collector: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// DaemonArgs are the arguments of a `run` for tests: the profiler
// directory dir and state file state, export over insecure gRPC to
// endpoint, fast timers (200 ms settle time and rescan, retries from 50 ms
// to 300 ms), no telemetry listener, info logs and a 10 s shutdown budget.
// extra come last, so a flag in extra overrides the same flag here (the
// flag package keeps the last value).
func DaemonArgs(dir, state, endpoint string, extra ...string) []string {
	return append([]string{"run",
		"--profiler-dir", dir, "--state-file", state,
		"--endpoint", endpoint, "--protocol", "grpc", "--insecure",
		"--settle-time", "200ms", "--rescan-interval", "200ms",
		"--retry-initial-interval", "50ms", "--retry-max-interval", "300ms",
		"--metrics-addr", "", "--log-level", "info", "--shutdown-timeout", "10s",
	}, extra...)
}
