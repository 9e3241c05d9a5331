package app

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// stepRoots are the steps the collector received (each rank's
// vllm.rank.step span, what the step metrics count): per step kind, how
// many and their summed length in seconds; per "kind/bottleneck" how many;
// per class the summed vllm.step.gpu_time.<class>_ns in seconds (none
// before the insights are written); and every step trace's id.
type stepRoots struct {
	count        map[string]int
	sum          map[string]float64
	byBottleneck map[string]int
	gpuTime      map[string]float64
	traces       map[string]bool
	total        int
}

func receivedStepRoots(c *otlptest.Collector) stepRoots {
	r := stepRoots{count: map[string]int{}, sum: map[string]float64{}, byBottleneck: map[string]int{}, gpuTime: map[string]float64{}, traces: map[string]bool{}}
	for _, req := range c.Requests() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					if s.Name != "vllm.rank.step" {
						continue
					}
					kind := "unknown"
					for _, a := range s.Attributes {
						if a.Key == "vllm.step.kind" {
							kind = a.Value.GetStringValue()
						}
					}
					r.count[kind]++
					r.sum[kind] += float64(s.EndTimeUnixNano-s.StartTimeUnixNano) / 1e9
					r.traces[hex.EncodeToString(s.TraceId)] = true
					r.total++
					bottleneck := "unknown"
					for _, a := range s.Attributes {
						switch {
						case a.Key == "vllm.step.bottleneck":
							bottleneck = a.Value.GetStringValue()
						case strings.HasPrefix(a.Key, "vllm.step.gpu_time.") && strings.HasSuffix(a.Key, "_ns"):
							class := strings.TrimSuffix(strings.TrimPrefix(a.Key, "vllm.step.gpu_time."), "_ns")
							r.gpuTime[class] += float64(a.Value.GetIntValue()) / 1e9
						}
					}
					r.byBottleneck[kind+"/"+bottleneck]++
				}
			}
		}
	}
	return r
}

// freeAddr is a loopback address nothing listens on (closed at once).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var (
	countRE    = regexp.MustCompile(`(?m)^vllm_otel_bridge_step_duration_seconds_count\{([^}]*)\} (\S+)$`)
	sumRE      = regexp.MustCompile(`(?m)^vllm_otel_bridge_step_duration_seconds_sum\{([^}]*)\} (\S+)$`)
	exemplarTR = regexp.MustCompile(`(?m)^vllm_otel_bridge_step_duration_seconds_bucket\{[^}]*\} \S+ # \{[^}]*trace_id="([0-9a-f]{32})"`)
	kindRE     = regexp.MustCompile(`step_kind="([^"]*)"`)
	bnRE       = regexp.MustCompile(`bottleneck="([^"]*)"`)
	gpuTimeRE  = regexp.MustCompile(`(?m)^vllm_otel_bridge_step_gpu_time_seconds_total\{[^}]*class="([a-z]+)"[^}]*\} (\S+)`)
)

// byKind sums a scrape's series matched by re per step_kind label.
func byKind(t *testing.T, body string, re *regexp.Regexp) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		k := kindRE.FindStringSubmatch(m[1])
		if k == nil {
			t.Fatalf("series without step_kind: %s", m[0])
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("%s: %v", m[0], err)
		}
		out[k[1]] += v
	}
	return out
}

// TestRunStepMetricsOnScrapeAndOTLP runs the daemon on the small H100
// trace with /metrics on and OTLP metrics sent to a gRPC receiver named by
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, and checks both against the step
// roots the span collector received: a count and a summed length per step
// kind, exemplars that name step traces, the rank from the file name.
func TestRunStepMetricsOnScrapeAndOTLP(t *testing.T) {
	c := startCollector(t)
	m := startGRPCMetricsReceiver(t)
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	addr := freeAddr(t)
	getenv := envOf("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://"+m.addr, "OTEL_METRIC_EXPORT_INTERVAL", "200")
	out := &testkit.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon output:\n%s", out.String())
		}
	})
	run := testkit.Go(t, "the daemon", 30*time.Second, func(ctx context.Context) error {
		if code := Main(ctx, daemonArgs(dir, state, c, "--metrics-addr", addr), io.Discard, out, getenv); code != 0 {
			return fmt.Errorf("exit %d", code)
		}
		return nil
	})
	testkit.PlaceFile(t, filepath.Join(dir, filepath.Base(smallTrace)), testkit.ReadFile(t, smallTrace))

	var want stepRoots
	testkit.WaitFor(t, "the file recorded as exported", 60*time.Second, func() bool {
		want = receivedStepRoots(c)
		st, err := scrapeURL("http://" + addr + "/metrics")
		return err == nil && want.total > 0 && strings.Contains(st, "vllm_otel_bridge_files_exported_total 1")
	})
	if want.total < 3 {
		t.Fatalf("the small trace gave %d step roots, want at least 3", want.total)
	}
	t.Logf("step roots received: %v (seconds %v), by bottleneck %v, GPU time by class %v", want.count, want.sum, want.byBottleneck, want.gpuTime)

	body, err := scrapeURL("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	counts, sums := byKind(t, body, countRE), byKind(t, body, sumRE)
	for kind, n := range want.count {
		if counts[kind] != float64(n) {
			t.Errorf("/metrics: %s steps counted %v, want %d", kind, counts[kind], n)
		}
		if math.Abs(sums[kind]-want.sum[kind]) > 1e-9 {
			t.Errorf("/metrics: %s steps' summed length %v s, want %v s", kind, sums[kind], want.sum[kind])
		}
	}
	if len(counts) != len(want.count) {
		t.Errorf("/metrics step kinds %v, want %v", counts, want.count)
	}
	bns := map[string]int{}
	for _, m := range countRE.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(strings.TrimSuffix(m[2], ".0"))
		bns[kindRE.FindStringSubmatch(m[1])[1]+"/"+bnRE.FindStringSubmatch(m[1])[1]] += n
	}
	if fmt.Sprint(bns) != fmt.Sprint(want.byBottleneck) {
		t.Errorf("/metrics: steps by kind/bottleneck %v, want %v", bns, want.byBottleneck)
	}
	gpu := map[string]float64{}
	for _, m := range gpuTimeRE.FindAllStringSubmatch(body, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("%s: %v", m[0], err)
		}
		gpu[m[1]] += v
	}
	if len(gpu) != len(want.gpuTime) {
		t.Errorf("/metrics: GPU time classes %v, want %v", gpu, want.gpuTime)
	}
	for class, v := range want.gpuTime {
		if math.Abs(gpu[class]-v) > 1e-9 {
			t.Errorf("/metrics: GPU time of %s %v s, want %v s", class, gpu[class], v)
		}
	}
	if !strings.Contains(body, `rank="0"`) {
		t.Error(`/metrics: no rank="0" label (the file name says rank0)`)
	}
	ex := exemplarTR.FindAllStringSubmatch(body, -1)
	if len(ex) == 0 {
		t.Fatal("/metrics: no exemplar on the step duration histogram")
	}
	for _, e := range ex {
		if !want.traces[e[1]] {
			t.Errorf("/metrics: exemplar trace %s is not a step trace that was exported", e[1])
		}
	}

	// OTLP: the same counts, exemplars naming step traces.
	testkit.WaitFor(t, "every step over OTLP", 30*time.Second, func() bool {
		n := uint64(0)
		for _, dp := range m.histogram("vllm_otel_bridge.step.duration") {
			n += dp.Count
		}
		return n == uint64(want.total)
	})
	otlpCount := map[string]int{}
	for key, dp := range m.histogram("vllm_otel_bridge.step.duration") {
		k := regexp.MustCompile(`step_kind=([a-z_]+)`).FindStringSubmatch(key)
		if k == nil {
			t.Fatalf("OTLP point without step_kind: %s", key)
		}
		otlpCount[k[1]] += int(dp.Count)
		if len(dp.Exemplars) == 0 {
			t.Errorf("OTLP point %s has no exemplar", key)
		}
		for _, e := range dp.Exemplars {
			if !want.traces[hex.EncodeToString(e.TraceId)] {
				t.Errorf("OTLP exemplar trace %x is not an exported step trace", e.TraceId)
			}
		}
	}
	if fmt.Sprint(otlpCount) != fmt.Sprint(want.count) {
		t.Errorf("OTLP step counts %v, want %v", otlpCount, want.count)
	}
	run.Stop(t)
}

func scrapeURL(u string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", openMetrics)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", u, resp.Status)
	}
	return string(b), nil
}
