package app

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// metricsReceiver is an OTLP metrics receiver over gRPC (the generated
// MetricsService server) or HTTP (POST /v1/metrics, protobuf): what a
// collector does, minus storage.
type metricsReceiver struct {
	colmetricspb.UnimplementedMetricsServiceServer
	mu    sync.Mutex
	reqs  []*colmetricspb.ExportMetricsServiceRequest
	paths []string
	hdrs  []string
	addr  string
}

func (m *metricsReceiver) Export(ctx context.Context, req *colmetricspb.ExportMetricsServiceRequest) (*colmetricspb.ExportMetricsServiceResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reqs = append(m.reqs, req)
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		m.hdrs = append(m.hdrs, strings.Join(md.Get("x-tenant"), ","))
	}
	return &colmetricspb.ExportMetricsServiceResponse{}, nil
}

func startGRPCMetricsReceiver(t *testing.T, opts ...grpc.ServerOption) *metricsReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &metricsReceiver{addr: ln.Addr().String()}
	srv := grpc.NewServer(opts...)
	colmetricspb.RegisterMetricsServiceServer(srv, m)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return m
}

func startHTTPMetricsReceiver(t *testing.T) (*metricsReceiver, string) {
	t.Helper()
	m := &metricsReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		req := &colmetricspb.ExportMetricsServiceRequest{}
		if err == nil {
			err = proto.Unmarshal(body, req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m.mu.Lock()
		m.reqs = append(m.reqs, req)
		m.paths = append(m.paths, r.URL.Path)
		m.hdrs = append(m.hdrs, r.Header.Get("X-Tenant"))
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&colmetricspb.ExportMetricsServiceResponse{})
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return m, srv.URL
}

// histogram returns the last received data points of the histogram named
// name, keyed by their attributes ("k=v,k=v" in the order sent).
func (m *metricsReceiver) histogram(name string) map[string]*metricspb.HistogramDataPoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]*metricspb.HistogramDataPoint{}
	for _, req := range m.reqs {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, mt := range sm.Metrics {
					if mt.Name != name || mt.GetHistogram() == nil {
						continue
					}
					for _, dp := range mt.GetHistogram().DataPoints {
						var kv []string
						for _, a := range dp.Attributes {
							kv = append(kv, a.Key+"="+attrString(a.Value))
						}
						out[strings.Join(kv, ",")] = dp
					}
				}
			}
		}
	}
	return out
}

func attrString(v *commonpb.AnyValue) string {
	if _, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
		return strconv.FormatInt(v.GetIntValue(), 10)
	}
	return v.GetStringValue()
}

func tID(b byte) span.TraceID { return span.TraceID{0xc0, 15: b} }
func sID(b byte) span.SpanID  { return span.SpanID{0xd0, 7: b} }

// oneDecodeStep is a trace file's batch with one 4 ms decode step on rank
// 1 (its vllm.rank.step span): 3 ms GPU busy, 0.4 ms host wait,
// launch-bound, 2 ms of GEMM.
func oneDecodeStep() *span.Batch {
	return &span.Batch{
		Resource: &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm"), span.Int("vllm.rank", 1)}},
		Spans: []span.Span{{TraceID: tID(1), SpanID: sID(1), Parent: sID(9), Name: "vllm.rank.step", Start: 1e18, End: 1e18 + 4_000_000, Attrs: []span.Attr{
			span.String("vllm.step.kind", "decode"),
			span.Int("vllm.step.gpu_busy_ns", 3_000_000),
			span.Int("vllm.step.gpu_idle.host_wait_ns", 400_000),
			span.String("vllm.step.bottleneck", "launch_bound"),
			span.Int("vllm.step.gpu_time.gemm_ns", 2_000_000),
		}}},
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// record commits b as one acknowledged trace file and one linker batch.
func record(om *otelMetrics, b *span.Batch) {
	f := om.recorder().NewFile()
	f.Add(b)
	f.Commit(context.Background())
	om.recorder().RecordRequests(context.Background(), &span.Batch{Spans: []span.Span{{
		TraceID: tID(9), SpanID: sID(9), Name: "llm_request", Attrs: []span.Attr{span.Int("vllm.request.gpu_attributed_ns", 7_000_000)},
	}}})
}

func scrape(t *testing.T, h http.Handler, accept string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

// exemplarRE matches an OpenMetrics exemplar's labels: the two ids, in
// either order (client_golang writes them from a map).
func exemplarRE(trace, spanID string) string {
	return `\{(trace_id="` + trace + `",span_id="` + spanID + `"|span_id="` + spanID + `",trace_id="` + trace + `")\}`
}

const openMetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8"

func TestStepMetricsScrapedWithExemplars(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Output.Sink.Path = "out.jsonl" // spans to a file: metrics on /metrics only
	tel := newTelemetry(discardLogger())
	om, err := newOTelMetrics(context.Background(), cfg, "host-a", tel.reg, envOf(), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer om.shutdown(time.Second)
	if om.otlp != "" || !om.prom {
		t.Fatalf("spans to a file: want prometheus only, got otlp %q prom %v", om.otlp, om.prom)
	}
	tel.reg.MustRegister(newConversionMetrics())
	record(om, oneDecodeStep())

	body := scrape(t, tel.handler(), openMetrics)
	trace, spanID := tID(1).String(), sID(1).String()
	// Values and exemplars as the OpenMetrics text writes them; 4 ms is in
	// the le="0.005" bucket, 0.75 in le="0.8", 0.1 in le="0.1", 7 ms in le="0.01".
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^vllm_otel_bridge_step_duration_seconds_bucket\{bottleneck="launch_bound",rank="1",step_kind="decode",le="0\.005"\} 1 # ` + exemplarRE(trace, spanID) + ` 0\.004 `),
		regexp.MustCompile(`(?m)^vllm_otel_bridge_step_duration_seconds_count\{bottleneck="launch_bound",rank="1",step_kind="decode"\} 1$`),
		regexp.MustCompile(`(?m)^vllm_otel_bridge_step_duration_seconds_sum\{bottleneck="launch_bound",rank="1",step_kind="decode"\} 0\.004$`),
		regexp.MustCompile(`(?m)^vllm_otel_bridge_step_gpu_busy_ratio_bucket\{bottleneck="launch_bound",rank="1",step_kind="decode",le="0\.8"\} 1 # ` + exemplarRE(trace, spanID) + ` 0\.75 `),
		regexp.MustCompile(`(?m)^vllm_otel_bridge_step_host_wait_ratio_bucket\{bottleneck="launch_bound",rank="1",step_kind="decode",le="0\.1"\} 1 # ` + exemplarRE(trace, spanID) + ` 0\.1 `),
		regexp.MustCompile(`(?m)^vllm_otel_bridge_step_gpu_time_seconds_total\{class="gemm",rank="1",step_kind="decode"\} 0\.002`),
		regexp.MustCompile(`(?m)^vllm_otel_bridge_request_gpu_attributed_seconds_bucket\{le="0\.01"\} 1 # ` + exemplarRE(tID(9).String(), sID(9).String()) + ` 0\.007 `),
		regexp.MustCompile(`(?m)^# TYPE vllm_otel_bridge_step_duration_seconds histogram$`),
		regexp.MustCompile(`(?m)^target_info\{.*service_name="vllm".*\} 1(\.0)?$`),
		// The collectors of before are still there, names unchanged.
		regexp.MustCompile(`(?m)^vllm_otel_bridge_converted_steps_total 0(\.0)?$`),
		regexp.MustCompile(`(?m)^# EOF$`),
	} {
		if !want.MatchString(body) {
			t.Errorf("OpenMetrics scrape has no line matching %s", want)
		}
	}
	// The classic text format (no Accept header) has the same series, no exemplars.
	plain := scrape(t, tel.handler(), "")
	if !strings.Contains(plain, `vllm_otel_bridge_step_duration_seconds_count{bottleneck="launch_bound",rank="1",step_kind="decode"} 1`) || strings.Contains(plain, "trace_id=") {
		t.Errorf("text scrape: want the series without exemplars:\n%s", plain)
	}
	// No kernel names, request ids or trace ids as labels.
	for _, line := range strings.Split(body, "\n") {
		series, _, _ := strings.Cut(line, " # ")
		if strings.Contains(series, trace) || strings.Contains(series, "req-") {
			t.Errorf("high-cardinality label in %q", line)
		}
	}
}

func TestStepMetricsOverOTLPGRPCToTheSpansEndpoint(t *testing.T) {
	m := startGRPCMetricsReceiver(t)
	cfg := DefaultConfig()
	cfg.Output.Sink.Transport.Endpoint = "http://" + m.addr // the spans' endpoint
	cfg.Output.Sink.Protocol = "grpc"
	om, err := newOTelMetrics(context.Background(), cfg, "host-a", newTelemetry(discardLogger()).reg,
		envOf("OTEL_METRIC_EXPORT_INTERVAL", "50"), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if om.otlp != cfg.Output.Sink.Transport.Endpoint {
		t.Errorf("OTLP metrics go to %q, want the spans' endpoint %q", om.otlp, cfg.Output.Sink.Transport.Endpoint)
	}
	record(om, oneDecodeStep())
	testkit.WaitFor(t, "the step duration histogram over OTLP", 20*time.Second, func() bool {
		return m.histogram("vllm_otel_bridge.step.duration")["bottleneck=launch_bound,rank=1,step_kind=decode"] != nil
	})
	if err := om.shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	checkOTLPStep(t, m)
}

// checkOTLPStep checks the decode step's figures and exemplar as received.
func checkOTLPStep(t *testing.T, m *metricsReceiver) {
	t.Helper()
	dp := m.histogram("vllm_otel_bridge.step.duration")["bottleneck=launch_bound,rank=1,step_kind=decode"]
	if dp == nil {
		t.Fatalf("no decode step point; got %v", m.histogram("vllm_otel_bridge.step.duration"))
	}
	if dp.Count != 1 || dp.GetSum() != 0.004 {
		t.Errorf("decode duration: count %d sum %v, want 1 and 0.004", dp.Count, dp.GetSum())
	}
	if len(dp.Exemplars) != 1 || hex.EncodeToString(dp.Exemplars[0].TraceId) != tID(1).String() ||
		hex.EncodeToString(dp.Exemplars[0].SpanId) != sID(1).String() || dp.Exemplars[0].GetAsDouble() != 0.004 {
		t.Errorf("decode duration exemplars %v, want one for trace %s span %s value 0.004", dp.Exemplars, tID(1), sID(1))
	}
	rq := m.histogram("vllm_otel_bridge.request.gpu_attributed")[""]
	if rq == nil || rq.Count != 1 || rq.GetSum() != 0.007 || len(rq.Exemplars) != 1 || hex.EncodeToString(rq.Exemplars[0].TraceId) != tID(9).String() {
		t.Errorf("request attributed GPU time: %v, want one 7 ms request with its trace's exemplar", rq)
	}
}

// TestStepMetricsOverOTLPWithTheSpansTLSAndHeaders gives the metrics the
// output's mTLS files and headers, against a receiver that requires a
// client certificate.
// pushOneStep records one decode step through the OTel metrics built from
// cfg (an hour's interval) and returns what the shutdown push returned.
func pushOneStep(t *testing.T, cfg Config) error {
	t.Helper()
	om, err := newOTelMetrics(context.Background(), cfg, "", newTelemetry(discardLogger()).reg,
		envOf("OTEL_METRIC_EXPORT_INTERVAL", "3600000"), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	record(om, oneDecodeStep())
	return om.shutdown(5 * time.Second)
}

func TestStepMetricsOverOTLPWithTheSpansTLSAndHeaders(t *testing.T) {
	pki := testkit.NewPKI(t)
	m := startGRPCMetricsReceiver(t, grpc.Creds(credentials.NewTLS(pki.ServerTLS(true))))
	cfg := DefaultConfig()
	cfg.Output.Sink.Transport.Endpoint = m.addr
	cfg.Output.Sink.Transport.TLS.CAFile = pki.CAFile
	cfg.Output.Sink.Transport.TLS.CertFile, cfg.Output.Sink.Transport.TLS.KeyFile = pki.ClientCertFile, pki.ClientKeyFile
	cfg.Output.Sink.Transport.Headers = map[string]string{"x-tenant": "team-b"}
	if err := pushOneStep(t, cfg); err != nil {
		t.Fatal(err)
	}
	checkOTLPStep(t, m)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.hdrs) == 0 || m.hdrs[0] != "team-b" {
		t.Errorf("x-tenant metadata %q, want the output's header", m.hdrs)
	}

	// Without the client certificate the receiver refuses the push.
	m2 := startGRPCMetricsReceiver(t, grpc.Creds(credentials.NewTLS(pki.ServerTLS(true))))
	cfg.Output.Sink.Transport.Endpoint = m2.addr
	cfg.Output.Sink.Transport.TLS.CertFile, cfg.Output.Sink.Transport.TLS.KeyFile = "", ""
	om2, err := newOTelMetrics(context.Background(), cfg, "", newTelemetry(discardLogger()).reg,
		envOf("OTEL_METRIC_EXPORT_INTERVAL", "3600000"), discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	record(om2, oneDecodeStep())
	_ = om2.shutdown(5 * time.Second)
	if len(m2.histogram("vllm_otel_bridge.step.duration")) != 0 {
		t.Error("a receiver requiring a client certificate took a push without one")
	}
}

func TestStepMetricsOverOTLPHTTPTakeTheMetricsPath(t *testing.T) {
	m, base := startHTTPMetricsReceiver(t)
	cfg := DefaultConfig()
	cfg.Output.Sink.Transport.Endpoint = base + "/v1/traces" // spans' URL as given
	cfg.Output.Sink.Transport.Headers = map[string]string{"X-Tenant": "team-a"}
	cfg.Output.Sink.Protocol = "http/protobuf"
	// Shutdown pushes what was recorded (the interval is an hour).
	if err := pushOneStep(t, cfg); err != nil {
		t.Fatal(err)
	}
	checkOTLPStep(t, m)
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, p := range m.paths {
		if p != "/v1/metrics" || m.hdrs[i] != "team-a" {
			t.Errorf("request %d: path %q header %q, want /v1/metrics and the output's headers", i, p, m.hdrs[i])
		}
	}
}

func TestMetricsExporterSelection(t *testing.T) {
	grpcOut := OutputConfig{Sink: DefaultConfig().Output.Sink}
	grpcOut.Sink.Transport.Endpoint = "collector:4317"
	fileOut := OutputConfig{}
	fileOut.Sink.Path = "spans.jsonl"
	for _, tc := range []struct {
		name       string
		out        OutputConfig
		env        []string
		otlp, prom bool
		err        bool
	}{
		{"spans over OTLP", grpcOut, nil, true, true, false},
		{"spans to a file", fileOut, nil, false, true, false},
		{"spans to a file, metrics endpoint set", fileOut, []string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:4317"}, true, true, false},
		{"spans endpoint from the environment", OutputConfig{}, []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"}, true, true, false},
		{"none", grpcOut, []string{"OTEL_METRICS_EXPORTER", "none"}, false, false, false},
		{"prometheus only", grpcOut, []string{"OTEL_METRICS_EXPORTER", "prometheus"}, false, true, false},
		{"otlp only", fileOut, []string{"OTEL_METRICS_EXPORTER", "otlp"}, true, false, false},
		{"both", fileOut, []string{"OTEL_METRICS_EXPORTER", "otlp, prometheus"}, true, true, false},
		{"unknown", grpcOut, []string{"OTEL_METRICS_EXPORTER", "console"}, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			otlp, prom, err := metricsExporters(tc.out, envOf(tc.env...))
			if (err != nil) != tc.err || otlp != tc.otlp || prom != tc.prom {
				t.Errorf("got otlp %v prom %v err %v, want %v %v err %v", otlp, prom, err, tc.otlp, tc.prom, tc.err)
			}
		})
	}
	if _, err := exemplarFilter(envOf("OTEL_METRICS_EXEMPLAR_FILTER", "sometimes")); err == nil {
		t.Error("an unknown OTEL_METRICS_EXEMPLAR_FILTER was accepted")
	}
	if _, err := millisEnv(envOf("OTEL_METRIC_EXPORT_INTERVAL", "10s"), "OTEL_METRIC_EXPORT_INTERVAL"); err == nil {
		t.Error("OTEL_METRIC_EXPORT_INTERVAL=10s (not milliseconds) was accepted")
	}
}

func TestMetricsEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name, endpoint, protocol string
		env                      []string
		want                     string
	}{
		{"grpc host:port as is", "tempo:4317", "grpc", nil, "tempo:4317"},
		{"grpc URL as is", "https://tempo:4317", "grpc", nil, "https://tempo:4317"},
		{"http traces path becomes metrics", "https://c:4318/v1/traces", "http/protobuf", nil, "https://c:4318/v1/metrics"},
		{"http prefix kept", "https://gw/otlp/v1/traces", "http", nil, "https://gw/otlp/v1/metrics"},
		{"http no path", "http://c:4318", "http/protobuf", nil, "http://c:4318/v1/metrics"},
		{"http host:port: client default path", "c:4318", "http/protobuf", nil, "c:4318"},
		{"metrics endpoint wins", "tempo:4317", "grpc", []string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:4317"}, "http://m:4317"},
		{"metrics protocol wins", "http://c:4318/v1/traces", "grpc", []string{"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"}, "http://c:4318/v1/metrics"},
		{"traces env endpoint", "", "http/protobuf", []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4318/v1/traces"}, "http://t:4318/v1/metrics"},
		{"base env endpoint, http", "", "http/protobuf", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://b:4318/otlp"}, "http://b:4318/otlp/v1/metrics"},
		{"base env endpoint, grpc", "", "", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://b:4317"}, "http://b:4317"},
		{"nothing", "", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o OutputConfig
			o.Sink.Transport.Endpoint, o.Sink.Protocol = tc.endpoint, tc.protocol
			getenv := envOf(tc.env...)
			got := metricsEndpoint(o.Sink, metricsProtocol(o.Sink, getenv), getenv)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDaemonRefusesABadMetricsVariable(t *testing.T) {
	cfg := fileDaemonConfig(t.TempDir())
	for _, env := range [][]string{
		{"OTEL_METRICS_EXPORTER", "console"},
		{"OTEL_METRICS_EXEMPLAR_FILTER", "sometimes"},
		{"OTEL_METRICS_EXPORTER", "otlp", "OTEL_METRIC_EXPORT_INTERVAL", "1m"},
	} {
		d, err := newDaemon(context.Background(), cfg, io.Discard, envOf(env...), discardLogger())
		if err == nil {
			_ = d.exp.Shutdown(context.Background())
			_ = d.om.shutdown(time.Second)
			t.Errorf("%v: the daemon started", env)
			continue
		}
		if !strings.Contains(err.Error(), env[len(env)-2]) {
			t.Errorf("%v: error %q does not name the variable", env, err)
		}
	}
}

func TestMetricsExporterNoneLeavesOnlyTheCollectors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Output.Sink.Transport.Endpoint = "127.0.0.1:1"
	om, err := newOTelMetrics(context.Background(), cfg, "", newTelemetry(discardLogger()).reg, envOf("OTEL_METRICS_EXPORTER", "none"), discardLogger())
	if err != nil || om != nil {
		t.Fatalf("none: got %v, %v; want no metrics provider", om, err)
	}
	// A nil provider records nothing and shuts down cleanly.
	record(om, oneDecodeStep())
	if err := om.shutdown(time.Second); err != nil {
		t.Fatal(err)
	}
}
