package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/logfiles"
)

// logFilesMetrics exports what the request-log follower does.
func logFilesMetrics(s *logfiles.Set) prometheus.Collector {
	type S = logfiles.Stats
	return newStatsCollector(s.Stats,
		gauge("log_files_followed", "vLLM log files held open now (requests.max_followed bounds them).", func(s S) float64 { return float64(s.Followed) }),
		gauge("log_files_queued", "vLLM log files waiting for a slot under requests.max_followed.", func(s S) float64 { return float64(s.Queued) }),
		gauge("log_files_known", "vLLM log files remembered by content (followed, idle or rotated).", func(s S) float64 { return float64(s.Known) }),
		counter("log_lines_total", "Lines read from vLLM log files.", func(s S) float64 { return float64(s.Lines) }),
		counter("log_records_total", "Request records read from vLLM log files.", func(s S) float64 { return float64(s.Records) }),
		counter("log_files_skipped_total", "vLLM log files skipped whole or in part (binary, no vLLM line, over-long lines, invalid UTF-8), one warning each.", func(s S) float64 { return float64(s.Skipped) }),
		counter("log_files_duplicate_total", "Rotated, copied or compressed log files recognised by content as already read.", func(s S) float64 { return float64(s.Duplicates) }),
		counter("log_files_truncated_total", "Log files truncated in place (logrotate copytruncate).", func(s S) float64 { return float64(s.Truncations) }),
	)
}
