package capture

import "github.com/prometheus/client_golang/prometheus"

// metrics are the controller's own Prometheus metrics; the Controller is
// their prometheus.Collector.
type metrics struct {
	captures     *prometheus.CounterVec
	inFlight     prometheus.Gauge
	vllmErrors   *prometheus.CounterVec
	resets       prometheus.Counter
	triggerValue *prometheus.GaugeVec
}

func newMetrics() *metrics {
	const ns = "vllm_otel_bridge"
	return &metrics{
		captures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "captures_total",
			Help: "Profiler captures by trigger (schedule, on_demand or a trigger's name) and outcome (ok, recovered, aborted, start_failed, stop_failed, refused_<reason>)."},
			[]string{"trigger", "outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "capture_in_flight",
			Help: "1 while vLLM's profiler may be on because of the bridge (started and not yet confirmed stopped)."}),
		vllmErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "capture_vllm_errors_total",
			Help: "Failed requests to vLLM by op (start_profile, stop_profile, metrics) and kind (unreachable, timeout, unauthorized, no_profiler, server_error, bad_status, parse)."},
			[]string{"op", "kind"}),
		resets: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "capture_vllm_counter_resets_total",
			Help: "Histogram series of vLLM's /metrics whose counters went down (vLLM restarted)."}),
		triggerValue: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "capture_trigger_value",
			Help: "The quantile each trigger last measured over its window (NaN when too few requests)."},
			[]string{"trigger"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.captures, m.inFlight, m.vllmErrors, m.resets, m.triggerValue}
}

// Describe implements prometheus.Collector.
func (c *Controller) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.m.collectors() {
		m.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (c *Controller) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.m.collectors() {
		m.Collect(ch)
	}
}

var _ prometheus.Collector = (*Controller)(nil)
