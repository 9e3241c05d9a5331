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
)

// TestMetricsUnchanged pins every metric's name, type and help text (the
// README lists them; dashboards and alerts use them): the collectors that
// replaced the per-metric closures must expose exactly these.
func TestMetricsUnchanged(t *testing.T) {
	want := []string{
		"vllm_otel_bridge_conversion_seconds HISTOGRAM Time to convert one trace file.",
		"vllm_otel_bridge_converted_json_bytes_total COUNTER Uncompressed trace JSON read.",
		"vllm_otel_bridge_converted_spans_total COUNTER Spans made from trace files.",
		"vllm_otel_bridge_converted_steps_total COUNTER Engine steps found in trace files.",
		"vllm_otel_bridge_converter_unaccounted_events_total COUNTER Trace events the converter's books do not account for (a converter bug; 0 expected).",
		"vllm_otel_bridge_disk_budget_overrun_bytes GAUGE Bytes over the disk budget that could not be freed (not exported yet).",
		"vllm_otel_bridge_export_bytes_total COUNTER Encoded bytes of acknowledged export requests.",
		"vllm_otel_bridge_export_errors_total COUNTER Export requests that failed for good (their file is retried from disk).",
		"vllm_otel_bridge_export_in_flight GAUGE Export requests being sent.",
		"vllm_otel_bridge_export_lag_seconds HISTOGRAM Time from a trace file's last write to its last span acknowledged.",
		"vllm_otel_bridge_export_oversize_spans_total COUNTER Spans larger than max_request_bytes, sent alone.",
		"vllm_otel_bridge_export_queued GAUGE Complete export requests waiting for a sender.",
		"vllm_otel_bridge_export_rejected_spans_total COUNTER Spans the backend rejected in partial successes.",
		"vllm_otel_bridge_export_requests_total COUNTER OTLP export requests acknowledged.",
		"vllm_otel_bridge_export_retries_total COUNTER Export attempts after the first.",
		"vllm_otel_bridge_export_spans_failed_total COUNTER Spans in export requests that failed for good.",
		"vllm_otel_bridge_files_deleted_by_budget_total COUNTER Exported trace files deleted to keep the disk budget.",
		"vllm_otel_bridge_files_exported_total COUNTER Trace files fully exported and acknowledged.",
		"vllm_otel_bridge_files_failed_total COUNTER Trace files that could not be converted (moved aside or kept per on_failure).",
		"vllm_otel_bridge_files_retried_total COUNTER Trace files put back for a later attempt (still growing, backend down).",
		"vllm_otel_bridge_files_seen_total COUNTER Trace files discovered.",
		"vllm_otel_bridge_files_waiting GAUGE Trace files waiting: settling, ready or backing off.",
		"vllm_otel_bridge_gpu_activities_without_launch_total COUNTER GPU activities whose launch was not in the file.",
		"vllm_otel_bridge_linker_ambiguous_steps_total COUNTER Steps whose requests the evidence did not settle.",
		"vllm_otel_bridge_linker_request_step_spans_total COUNTER Request-step spans written.",
		"vllm_otel_bridge_linker_steps_total COUNTER Steps linked to requests.",
		"vllm_otel_bridge_linker_steps_without_requests_total COUNTER Steps with a batch but no known request.",
		"vllm_otel_bridge_oldest_waiting_seconds GAUGE Age of the oldest waiting trace file.",
		"vllm_otel_bridge_profiler_dir_bytes GAUGE Bytes of trace files in the profiler directories.",
		"vllm_otel_bridge_receiver_errors_total COUNTER OTLP requests refused for another reason.",
		"vllm_otel_bridge_receiver_pending_bytes GAUGE Received bytes not yet handed to the exporter.",
		"vllm_otel_bridge_receiver_refused_overload_total COUNTER OTLP requests refused as retryable because max_pending_bytes was reached.",
		"vllm_otel_bridge_receiver_requests_total COUNTER OTLP requests received and forwarded.",
		"vllm_otel_bridge_receiver_spans_total COUNTER Spans received and forwarded.",
		"vllm_otel_bridge_requests_known GAUGE Requests held in the request timeline.",
		"vllm_otel_bridge_spans_dropped_by_cap_total COUNTER Spans left out by max_spans_per_trace (summarised on their parents).",
		"vllm_otel_bridge_spans_exported_total COUNTER Spans acknowledged by the backend.",
		"vllm_otel_bridge_strings_truncated_total COUNTER Span names and string values cut to 64 KiB.",
	}
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Profiler.Dirs = []string{dir}
	cfg.StateFile = filepath.Join(dir, "state.json")
	cfg.Output.Sink.Path = filepath.Join(dir, "out.jsonl")
	cfg.Receiver.GRPCAddr, cfg.Receiver.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	d, err := newDaemon(context.Background(), cfg, io.Discard, func(string) string { return "" }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.exp.Shutdown(context.Background())
	mfs, err := d.tel.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "vllm_otel_bridge_") {
			lines = append(lines, fmt.Sprintf("%s %s %s", mf.GetName(), mf.GetType(), mf.GetHelp()))
		}
	}
	sort.Strings(lines)
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("metrics changed:\ngot\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
