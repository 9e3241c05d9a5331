package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/exporter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/stepmetrics"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/version"
)

// The OpenTelemetry metrics environment variables the daemon reads itself
// (through getenv); the OTLP client reads the other OTEL_EXPORTER_OTLP_*
// variables for what the output section leaves unset.
const (
	envMetricsExporter   = "OTEL_METRICS_EXPORTER"
	envMetricsEndpoint   = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	envMetricsProtocol   = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	envOTLPEndpoint      = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint    = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envOTLPProtocol      = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envExemplarFilter    = "OTEL_METRICS_EXEMPLAR_FILTER"
	envMetricInterval    = "OTEL_METRIC_EXPORT_INTERVAL"
	envMetricTimeout     = "OTEL_METRIC_EXPORT_TIMEOUT"
	metricsPath          = "/v1/metrics"
	tracesPath           = "/v1/traces"
	defaultMetricsPeriod = 60 * time.Second
)

// otelMetrics is the OpenTelemetry MeterProvider of the step and request
// metrics (stepmetrics), read by the Prometheus exporter into /metrics and
// pushed over OTLP, as OTEL_METRICS_EXPORTER says.
type otelMetrics struct {
	mp  *sdkmetric.MeterProvider
	rec *stepmetrics.Recorder
	// otlp says where OTLP metrics go ("" when off); prom whether they
	// are on /metrics.
	otlp string
	prom bool
}

// metricsExporters reads OTEL_METRICS_EXPORTER: a comma-separated list of
// otlp, prometheus and none. Unset, the metrics are on /metrics and go
// over OTLP when spans do (an OTLP endpoint, not a file) or
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set.
func metricsExporters(o OutputConfig, getenv func(string) string) (otlp, prom bool, err error) {
	v := strings.TrimSpace(getenv(envMetricsExporter))
	if v == "" {
		spansOverOTLP := o.Sink.Path == "" && o.Sink.Protocol != exporter.ProtocolDiscard && o.HasEndpoint(getenv)
		return spansOverOTLP || getenv(envMetricsEndpoint) != "", true, nil
	}
	for _, name := range strings.Split(v, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "otlp":
			otlp = true
		case "prometheus":
			prom = true
		case "none":
		default:
			return false, false, fmt.Errorf("%s: %q is not otlp, prometheus or none", envMetricsExporter, name)
		}
	}
	return otlp, prom, nil
}

// exemplarFilter reads OTEL_METRICS_EXEMPLAR_FILTER (default trace_based:
// every step measurement carries its step's sampled span context, so every
// one is offered to the reservoir).
func exemplarFilter(getenv func(string) string) (exemplar.Filter, error) {
	switch v := strings.ToLower(strings.TrimSpace(getenv(envExemplarFilter))); v {
	case "", "trace_based":
		return exemplar.TraceBasedFilter, nil
	case "always_on":
		return exemplar.AlwaysOnFilter, nil
	case "always_off":
		return exemplar.AlwaysOffFilter, nil
	default:
		return nil, fmt.Errorf("%s: %q is not trace_based, always_on or always_off", envExemplarFilter, v)
	}
}

// millisEnv reads a duration in milliseconds from getenv; 0 when unset.
func millisEnv(getenv func(string) string, key string) (time.Duration, error) {
	v := strings.TrimSpace(getenv(key))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive number of milliseconds", key, v)
	}
	return time.Duration(n) * time.Millisecond, nil
}

// newOTelMetrics builds the MeterProvider and its readers: the Prometheus
// exporter registered on reg (served on /metrics) and a periodic OTLP
// exporter. It returns nil when OTEL_METRICS_EXPORTER is none.
func newOTelMetrics(ctx context.Context, cfg Config, hostName string, reg prometheus.Registerer, getenv func(string) string, logger *slog.Logger) (*otelMetrics, error) {
	useOTLP, useProm, err := metricsExporters(cfg.Output, getenv)
	if err != nil {
		return nil, err
	}
	if !useOTLP && !useProm {
		return nil, nil
	}
	filter, err := exemplarFilter(getenv)
	if err != nil {
		return nil, err
	}
	opts := []sdkmetric.Option{sdkmetric.WithResource(metricsResource(cfg, hostName)), sdkmetric.WithExemplarFilter(filter)}
	om := &otelMetrics{prom: useProm}
	if useProm {
		pe, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
		if err != nil {
			return nil, fmt.Errorf("metrics: prometheus exporter: %w", err)
		}
		opts = append(opts, sdkmetric.WithReader(pe))
	}
	if useOTLP {
		exp, where, err := newOTLPMetricExporter(ctx, cfg.Output.Sink, getenv)
		if err != nil {
			return nil, fmt.Errorf("metrics: OTLP exporter: %w", err)
		}
		interval, err := millisEnv(getenv, envMetricInterval)
		if err != nil {
			_ = exp.Shutdown(ctx)
			return nil, err
		}
		timeout, err := millisEnv(getenv, envMetricTimeout)
		if err != nil {
			_ = exp.Shutdown(ctx)
			return nil, err
		}
		if interval == 0 {
			interval = defaultMetricsPeriod
		}
		ropts := []sdkmetric.PeriodicReaderOption{sdkmetric.WithInterval(interval)}
		if timeout > 0 {
			ropts = append(ropts, sdkmetric.WithTimeout(timeout))
		}
		logged := &loggingMetricExporter{Exporter: exp, logger: logger.With("component", "metrics")}
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(logged, ropts...)))
		om.otlp = where
	}
	om.mp = sdkmetric.NewMeterProvider(opts...)
	om.rec, err = stepmetrics.New(om.mp, version.Get().Version)
	if err != nil {
		_ = om.mp.Shutdown(ctx)
		return nil, err
	}
	return om, nil
}

// metricsResource describes the bridge's metrics: the same service name,
// user attributes and host as its spans.
func metricsResource(cfg Config, hostName string) *resource.Resource {
	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.ServiceName)}
	for k, v := range cfg.ResourceAttributes {
		if k != "service.name" {
			attrs = append(attrs, attribute.String(k, v))
		} else {
			attrs[0] = attribute.String(k, v)
		}
	}
	if hostName != "" {
		if _, ok := cfg.ResourceAttributes["host.name"]; !ok {
			attrs = append(attrs, attribute.String("host.name", hostName))
		}
	}
	attrs = append(attrs, attribute.String("telemetry.sdk.name", scopeName), attribute.String("telemetry.sdk.version", version.Get().Version))
	return resource.NewSchemaless(attrs...)
}

// recorder is the step metrics recorder; nil when metrics are off.
func (m *otelMetrics) recorder() *stepmetrics.Recorder {
	if m == nil {
		return nil
	}
	return m.rec
}

// maxMetricsShutdown bounds the last OTLP push at shutdown.
const maxMetricsShutdown = 5 * time.Second

// shutdown pushes the last OTLP metrics and stops the readers, within
// timeout (at most maxMetricsShutdown).
func (m *otelMetrics) shutdown(timeout time.Duration) error {
	if m == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(timeout, maxMetricsShutdown))
	defer cancel()
	return m.mp.Shutdown(ctx)
}

// metricsProtocol is the OTLP protocol of the metrics:
// OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, else output.protocol, else
// OTEL_EXPORTER_OTLP_PROTOCOL, else gRPC. http/json is sent as
// http/protobuf (the OTel metrics client has no JSON encoding).
func metricsProtocol(s exporter.SinkConfig, getenv func(string) string) string {
	p := strings.TrimSpace(getenv(envMetricsProtocol))
	if p == "" {
		switch s.Protocol {
		case exporter.ProtocolGRPC, exporter.ProtocolHTTP, exporter.ProtocolHTTPProtobuf, exporter.ProtocolHTTPJSON:
			p = s.Protocol
		}
	}
	if p == "" {
		p = strings.TrimSpace(getenv(envOTLPProtocol))
	}
	switch p {
	case exporter.ProtocolHTTP, exporter.ProtocolHTTPProtobuf, exporter.ProtocolHTTPJSON:
		return exporter.ProtocolHTTPProtobuf
	}
	return exporter.ProtocolGRPC
}

// metricsEndpoint is where OTLP metrics go, as a URL (whose path is used
// as is) or host:port: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (as is), else the traces' endpoint
// (output.endpoint, else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) with a
// trailing /v1/traces made /v1/metrics, else OTEL_EXPORTER_OTLP_ENDPOINT
// with /v1/metrics appended for HTTP. "" leaves it to the OTel client's
// default (localhost).
func metricsEndpoint(s exporter.SinkConfig, proto string, getenv func(string) string) string {
	if v := strings.TrimSpace(getenv(envMetricsEndpoint)); v != "" {
		return v
	}
	tr := s.Transport.Endpoint
	if tr == "" {
		tr = strings.TrimSpace(getenv(envTracesEndpoint))
	}
	if tr != "" {
		if !isURL(tr) || proto == exporter.ProtocolGRPC {
			return tr
		}
		return signalURL(tr, true)
	}
	if v := strings.TrimSpace(getenv(envOTLPEndpoint)); v != "" {
		if proto == exporter.ProtocolGRPC || !isURL(v) {
			return v
		}
		return signalURL(v, false)
	}
	return ""
}

// signalURL makes an OTLP/HTTP traces URL (traces: its path may end in
// /v1/traces) or a base URL into the metrics URL: /v1/traces becomes
// /v1/metrics, an empty path becomes /v1/metrics, and a base URL's path
// gets /v1/metrics appended.
func signalURL(raw string, traces bool) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	switch p := strings.TrimSuffix(u.Path, "/"); {
	case traces && strings.HasSuffix(p, tracesPath):
		u.Path = strings.TrimSuffix(p, tracesPath) + metricsPath
	case p == "" || !traces:
		u.Path = p + metricsPath
	}
	return u.String()
}

func isURL(s string) bool { return strings.Contains(s, "://") }

// newOTLPMetricExporter builds the OTLP metrics client with the output
// section's transport settings (TLS, headers, compression, timeout, as the
// span exporter uses them); unset ones are left to the OTel client, which
// reads OTEL_EXPORTER_OTLP_METRICS_* and OTEL_EXPORTER_OTLP_*. It returns
// the endpoint for the log.
func newOTLPMetricExporter(ctx context.Context, s exporter.SinkConfig, getenv func(string) string) (sdkmetric.Exporter, string, error) {
	t := s.Transport
	if err := t.Validate(); err != nil {
		return nil, "", err
	}
	tlsCfg, err := t.TLS.Client()
	if err != nil {
		return nil, "", fmt.Errorf("tls: %w", err)
	}
	proto := metricsProtocol(s, getenv)
	t.Endpoint = metricsEndpoint(s, proto, getenv)
	where := t.Endpoint
	if where == "" {
		where = "the OTEL_EXPORTER_OTLP_* default endpoint"
	}
	// No retries: a failed push is logged and the next one carries the
	// same cumulative totals, and the push at shutdown is one attempt,
	// not a retry loop that holds SIGTERM up while the backend is down.
	if proto == exporter.ProtocolGRPC {
		opts := exporter.AppendClientOptions([]otlpmetricgrpc.Option{otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false})}, t, tlsCfg, exporter.OptionSet[otlpmetricgrpc.Option]{
			EndpointURL: otlpmetricgrpc.WithEndpointURL,
			Endpoint:    otlpmetricgrpc.WithEndpoint,
			TLS:         exporter.GRPCTLS(otlpmetricgrpc.WithTLSCredentials),
			Insecure:    otlpmetricgrpc.WithInsecure,
			Headers:     otlpmetricgrpc.WithHeaders,
			Timeout:     otlpmetricgrpc.WithTimeout,
		})
		if t.Compression != "" {
			opts = append(opts, otlpmetricgrpc.WithCompressor(t.Compression))
		}
		e, err := otlpmetricgrpc.New(ctx, opts...)
		return e, where, err
	}
	opts := exporter.AppendClientOptions([]otlpmetrichttp.Option{otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false})}, t, tlsCfg, exporter.OptionSet[otlpmetrichttp.Option]{
		EndpointURL: otlpmetrichttp.WithEndpointURL,
		Endpoint:    otlpmetrichttp.WithEndpoint,
		TLS:         otlpmetrichttp.WithTLSClientConfig,
		Insecure:    otlpmetrichttp.WithInsecure,
		Headers:     otlpmetrichttp.WithHeaders,
		Timeout:     otlpmetrichttp.WithTimeout,
	})
	switch t.Compression {
	case "gzip":
		opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
	case "none":
		opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.NoCompression))
	}
	e, err := otlpmetrichttp.New(ctx, opts...)
	return e, where, err
}

// loggingMetricExporter logs a failed OTLP metrics export through the
// daemon's logger and reports success to the reader, so the OTel SDK's
// global error handler (which would log elsewhere) is not involved. The
// cumulative figures go again with the next export, so nothing is lost.
type loggingMetricExporter struct {
	sdkmetric.Exporter
	logger *slog.Logger
}

// Export implements sdkmetric.Exporter.
func (e *loggingMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	if err := e.Exporter.Export(ctx, rm); err != nil {
		e.logger.Warn("OTLP metrics export failed; the next export carries the same cumulative figures", "err", err)
	}
	return nil
}
