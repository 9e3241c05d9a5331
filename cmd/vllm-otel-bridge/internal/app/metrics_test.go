package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestMetricsUnchanged pins every metric's name, type and help text (the
// README lists them; dashboards and alerts use them): the collectors that
// replaced the per-metric closures must expose exactly the lines of
// testdata/metrics.golden.txt ("name TYPE help", sorted). A metric added or
// changed on purpose is rewritten with -update and shows in that file's diff.
func TestMetricsUnchanged(t *testing.T) {
	cfg := fileDaemonConfig(t.TempDir())
	cfg.Receiver.GRPCAddr, cfg.Receiver.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	var lines []string
	for _, mf := range gatherMetrics(t, cfg) {
		if strings.HasPrefix(mf.GetName(), "vllm_otel_bridge_") {
			lines = append(lines, fmt.Sprintf("%s %s %s", mf.GetName(), mf.GetType(), mf.GetHelp()))
		}
	}
	sort.Strings(lines)
	testkit.Golden(t, "testdata/metrics.golden.txt", []byte(strings.Join(lines, "\n")+"\n"), *update)
}

// fileDaemonConfig is the default config of a daemon that lives in dir:
// dir is its one profiler directory and holds its state file and the file
// its spans go to.
func fileDaemonConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.Profiler.Dirs = []string{dir}
	cfg.StateFile = filepath.Join(dir, "state.json")
	cfg.Output.Sink.Path = filepath.Join(dir, "out.jsonl")
	return cfg
}

// gatherMetrics builds the daemon for cfg without starting it and returns
// the metric families its Prometheus registry gathers.
func gatherMetrics(t *testing.T, cfg Config) []*dto.MetricFamily {
	t.Helper()
	d, err := newDaemon(context.Background(), cfg, io.Discard, func(string) string { return "" }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.exp.Shutdown(context.Background())
	mfs, err := d.tel.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}
