// Package capture decides when vLLM's torch profiler runs: it starts and
// stops captures through vLLM's POST /start_profile and POST /stop_profile,
// on a schedule, on demand (an authenticated POST /v1/profile on the
// bridge's HTTP address) or when a latency quantile computed from vLLM's
// own Prometheus histograms crosses a threshold, and it remembers which
// capture produced which trace file so the exported spans can carry
// vllm.profile.capture_id and vllm.profile.trigger.
//
// Safety comes before features. One capture runs at a time; captures are
// bounded by a hard maximum duration, a cool-down and a number per hour; a
// precondition hook (the watcher's disk budget) can refuse a start. A
// capture in flight is recorded in a small state file (written atomically)
// before /start_profile is sent, so the stop is always issued: on context
// cancellation (SIGTERM) by Run itself, and after a crash or kill -9 by the
// next Run, which sends /stop_profile before anything else and before every
// later start until one succeeds. vLLM ignores a stop when its profiler is
// not active (vllm/profiler/wrapper.py, WorkerProfiler.stop), so the extra
// stop is harmless. vLLM being down, restarting, answering 401, 404 (no
// profiler configured) or 5xx is logged, counted and retried on the next
// tick; Run returns only when its context ends.
//
// Latency triggers use bucket deltas between scrapes of vLLM's /metrics,
// summed over a sliding window, never the totals since vLLM started. A
// counter that goes down (vLLM restarted) starts a new baseline: the new
// totals count as the delta. Samples taken while a capture runs, and the
// capture's file grace period, are discarded, so the profiler's own
// overhead (2-20%) cannot fire the next capture.
//
// The package never reads or converts trace files (it lists their names and
// reads a name's timestamp to map it to a capture), never exports spans,
// never deletes files, and never logs the vLLM API key or the control
// token: both are read from files (or VLLM_API_KEY) when needed and kept
// out of Config.
package capture
