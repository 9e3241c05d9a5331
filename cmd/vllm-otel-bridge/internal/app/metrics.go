package app

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/exporter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/receiver"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher"
)

// metricsNamespace prefixes every metric name of the bridge.
const metricsNamespace = "vllm_otel_bridge"

// stat is one metric read from a component's Stats snapshot.
type stat[S any] struct {
	name, help string
	kind       prometheus.ValueType
	value      func(S) float64
}

func counter[S any](name, help string, v func(S) float64) stat[S] {
	return stat[S]{name, help, prometheus.CounterValue, v}
}

func gauge[S any](name, help string, v func(S) float64) stat[S] {
	return stat[S]{name, help, prometheus.GaugeValue, v}
}

// statsCollector is a prometheus.Collector over one component's Stats:
// each scrape takes one snapshot, so its metrics agree with each other.
type statsCollector[S any] struct {
	snapshot func() S
	stats    []stat[S]
	descs    []*prometheus.Desc
}

func newStatsCollector[S any](snapshot func() S, stats ...stat[S]) *statsCollector[S] {
	c := &statsCollector[S]{snapshot: snapshot, stats: stats}
	for _, s := range stats {
		c.descs = append(c.descs, prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", s.name), s.help, nil, nil))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *statsCollector[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector[S]) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	for i, st := range c.stats {
		ch <- prometheus.MustNewConstMetric(c.descs[i], st.kind, st.value(s))
	}
}

func watcherMetrics(w *watcher.Watcher) prometheus.Collector {
	type S = watcher.Stats
	return newStatsCollector(w.Stats,
		counter("files_seen_total", "Trace files discovered.", func(s S) float64 { return float64(s.Seen) }),
		counter("files_exported_total", "Trace files fully exported and acknowledged.", func(s S) float64 { return float64(s.Exported) }),
		counter("files_failed_total", "Trace files that could not be converted (moved aside or kept per on_failure).", func(s S) float64 { return float64(s.Failed) }),
		counter("files_retried_total", "Trace files put back for a later attempt (still growing, backend down).", func(s S) float64 { return float64(s.Retried) }),
		counter("files_deleted_by_budget_total", "Exported trace files deleted to keep the disk budget.", func(s S) float64 { return float64(s.DeletedByBudget) }),
		gauge("files_waiting", "Trace files waiting: settling, ready or backing off.", func(s S) float64 { return float64(s.Queue) }),
		gauge("oldest_waiting_seconds", "Age of the oldest waiting trace file.", func(s S) float64 { return s.OldestWaiting.Seconds() }),
		gauge("profiler_dir_bytes", "Bytes of trace files in the profiler directories.", func(s S) float64 { return float64(s.BytesOnDisk) }),
		gauge("disk_budget_overrun_bytes", "Bytes over the disk budget that could not be freed (not exported yet).", func(s S) float64 { return float64(s.BudgetOverrun) }),
	)
}

func exporterMetrics(e *exporter.Exporter) prometheus.Collector {
	type S = exporter.Stats
	return newStatsCollector(e.Stats,
		counter("spans_exported_total", "Spans acknowledged by the backend.", func(s S) float64 { return float64(s.SpansExported) }),
		counter("export_requests_total", "OTLP export requests acknowledged.", func(s S) float64 { return float64(s.RequestsExported) }),
		counter("export_bytes_total", "Encoded bytes of acknowledged export requests.", func(s S) float64 { return float64(s.BytesExported) }),
		counter("export_retries_total", "Export attempts after the first.", func(s S) float64 { return float64(s.Retries) }),
		counter("export_errors_total", "Export requests that failed for good (their file is retried from disk).", func(s S) float64 { return float64(s.Errors) }),
		counter("export_spans_failed_total", "Spans in export requests that failed for good.", func(s S) float64 { return float64(s.SpansFailed) }),
		counter("export_rejected_spans_total", "Spans the backend rejected in partial successes.", func(s S) float64 { return float64(s.RejectedSpans) }),
		counter("export_oversize_spans_total", "Spans larger than max_request_bytes, sent alone.", func(s S) float64 { return float64(s.OversizeSpans) }),
		gauge("export_in_flight", "Export requests being sent.", func(s S) float64 { return float64(s.InFlight) }),
		gauge("export_queued", "Complete export requests waiting for a sender.", func(s S) float64 { return float64(s.Queued) }),
	)
}

// linkerStats is the linker's counters with the size of its timeline.
type linkerStats struct {
	linker.Stats
	requests int
}

func linkerMetrics(lk *linker.Linker, tl *linker.Timeline) prometheus.Collector {
	type S = linkerStats
	return newStatsCollector(func() S { return S{lk.Stats(), tl.Len()} },
		counter("linker_steps_total", "Steps linked to requests.", func(s S) float64 { return float64(s.Steps) }),
		counter("linker_ambiguous_steps_total", "Steps whose requests the evidence did not settle.", func(s S) float64 { return float64(s.Ambiguous) }),
		counter("linker_steps_without_requests_total", "Steps with a batch but no known request.", func(s S) float64 { return float64(s.NoRequests) }),
		counter("linker_request_step_spans_total", "Request-step spans written.", func(s S) float64 { return float64(s.SpansEmitted) }),
		gauge("requests_known", "Requests held in the request timeline.", func(s S) float64 { return float64(s.requests) }),
	)
}

func receiverMetrics(r *receiver.Receiver) prometheus.Collector {
	type S = receiver.Stats
	return newStatsCollector(r.Stats,
		counter("receiver_requests_total", "OTLP requests received and forwarded.", func(s S) float64 { return float64(s.Requests) }),
		counter("receiver_spans_total", "Spans received and forwarded.", func(s S) float64 { return float64(s.Spans) }),
		counter("receiver_refused_overload_total", "OTLP requests refused as retryable because max_pending_bytes was reached.", func(s S) float64 { return float64(s.RefusedOverload) }),
		counter("receiver_errors_total", "OTLP requests refused for another reason.", func(s S) float64 { return float64(s.Errors()) }),
		gauge("receiver_pending_bytes", "Received bytes not yet handed to the exporter.", func(s S) float64 { return float64(s.PendingBytes) }),
	)
}

// conversionMetrics sums what the converter reported over all files the
// daemon recorded as exported, with the conversion time and export lag.
type conversionMetrics struct {
	mu                                                                            sync.Mutex
	spans, steps, dropped, orphanGPU, jsonBytes, truncated, unaccounted           int64
	descSpans, descSteps, descJSON, descDropped, descTrunc, descOrphan, descUnacc *prometheus.Desc
	seconds, lag                                                                  prometheus.Histogram
}

func newConversionMetrics() *conversionMetrics {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", name), help, nil, nil)
	}
	return &conversionMetrics{
		descSpans:   desc("converted_spans_total", "Spans made from trace files."),
		descSteps:   desc("converted_steps_total", "Engine steps found in trace files."),
		descJSON:    desc("converted_json_bytes_total", "Uncompressed trace JSON read."),
		descDropped: desc("spans_dropped_by_cap_total", "Spans left out by max_spans_per_trace (summarised on their parents)."),
		descTrunc:   desc("strings_truncated_total", "Span names and string values cut to 64 KiB."),
		descOrphan:  desc("gpu_activities_without_launch_total", "GPU activities whose launch was not in the file."),
		descUnacc:   desc("converter_unaccounted_events_total", "Trace events the converter's books do not account for (a converter bug; 0 expected)."),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "conversion_seconds",
			Help: "Time to convert one trace file.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "export_lag_seconds",
			Help: "Time from a trace file's last write to its last span acknowledged.", Buckets: prometheus.ExponentialBuckets(0.25, 2, 14)}),
	}
}

// observe counts one exported file.
func (m *conversionMetrics) observe(st converter.Stats, took, lag time.Duration) {
	m.seconds.Observe(took.Seconds())
	m.lag.Observe(lag.Seconds())
	m.mu.Lock()
	defer m.mu.Unlock()
	m.spans += st.SpansEmitted
	m.steps += int64(st.Steps)
	m.dropped += st.SpansDropped
	m.orphanGPU += st.OrphanGPU
	m.jsonBytes += st.JSONBytes
	m.truncated += st.StringsTruncated
	m.unaccounted += st.Unaccounted()
}

// Describe implements prometheus.Collector.
func (m *conversionMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.descSpans, m.descSteps, m.descJSON, m.descDropped, m.descTrunc, m.descOrphan, m.descUnacc} {
		ch <- d
	}
	m.seconds.Describe(ch)
	m.lag.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *conversionMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	vals := []struct {
		d *prometheus.Desc
		v int64
	}{{m.descSpans, m.spans}, {m.descSteps, m.steps}, {m.descJSON, m.jsonBytes}, {m.descDropped, m.dropped}, {m.descTrunc, m.truncated}, {m.descOrphan, m.orphanGPU}, {m.descUnacc, m.unaccounted}}
	m.mu.Unlock()
	for _, v := range vals {
		ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, float64(v.v))
	}
	m.seconds.Collect(ch)
	m.lag.Collect(ch)
}
