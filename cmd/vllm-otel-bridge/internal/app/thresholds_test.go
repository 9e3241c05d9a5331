package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpjson"
)

const h100Trace = "../../../../testdata/h100/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz"

// stepVerdicts converts trace with args and returns each step root's
// integer figures and its bottleneck.
func stepVerdicts(t *testing.T, trace string, args ...string) []map[string]any {
	t.Helper()
	out := filepath.Join(t.TempDir(), "spans.jsonl")
	code, _, stderr := runMain(append(append([]string{"convert", "--summary=false", "-o", out}, args...), trace)...)
	if code != 0 {
		t.Fatalf("convert %v: exit %d: %s", args, code, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []map[string]any
	err = otlpjson.ReadJSONLines(f, func(req *coltracepb.ExportTraceServiceRequest) error {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					if !strings.HasPrefix(s.Name, "vllm.step.") || len(s.ParentSpanId) != 0 {
						continue
					}
					m := map[string]any{"wall_ns": int64(s.EndTimeUnixNano - s.StartTimeUnixNano)}
					for _, a := range s.Attributes {
						if _, ok := a.Value.Value.(*commonpb.AnyValue_StringValue); ok {
							m[a.Key] = a.Value.GetStringValue()
						} else {
							m[a.Key] = a.Value.GetIntValue()
						}
					}
					steps = append(steps, m)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) == 0 {
		t.Fatal("no step roots")
	}
	return steps
}

// TestThresholdFlagsDecideTheBottleneck checks that the thresholds reach
// the rule, against the rule as the insights README states it, applied by
// the test to the figures on each root: with min_busy_ratio 1 every step
// whose GPU was idle at all is starved (launch_bound or host); with tiny
// ratios and shares a busy step that copied memory and did no
// communication is memory_copy, one that did neither gpu_compute.
func TestThresholdFlagsDecideTheBottleneck(t *testing.T) {
	starved := stepVerdicts(t, h100Trace, "--threshold-min-busy-ratio", "1")
	for i, s := range starved {
		b := s["vllm.step.bottleneck"]
		if s["vllm.step.gpu_idle_ns"].(int64) > 0 && b != "launch_bound" && b != "host" {
			t.Errorf("step %d: bottleneck %v with min_busy_ratio 1 and %v ns idle, want launch_bound or host", i, b, s["vllm.step.gpu_idle_ns"])
		}
	}
	busy := stepVerdicts(t, h100Trace, "--threshold-min-busy-ratio", "1e-9", "--threshold-memcpy-share", "1e-9", "--threshold-communication-share", "1")
	copies := 0
	for i, s := range busy {
		want := "gpu_compute"
		switch {
		case s["vllm.step.kernel_count"].(int64) == 0:
			want = "host"
		case s["vllm.step.gpu_time.communication_ns"].(int64) > 0:
			continue // the communication share decides; not under test here
		case s["vllm.step.gpu_time.memcpy_ns"].(int64) > 0:
			want = "memory_copy"
			copies++
		}
		if got := s["vllm.step.bottleneck"]; got != want {
			t.Errorf("step %d: bottleneck %v, want %s (memcpy %v ns)", i, got, want, s["vllm.step.gpu_time.memcpy_ns"])
		}
	}
	if copies == 0 {
		t.Error("no step copied memory: the memcpy_share case was not exercised")
	}
	def := stepVerdicts(t, h100Trace)
	same := true
	for i := range def {
		if def[i]["vllm.step.bottleneck"] != busy[i]["vllm.step.bottleneck"] {
			same = false
		}
	}
	if same {
		t.Error("the thresholds changed no verdict")
	}
}

func TestThresholdsConfigAndValidation(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "bridge.yaml")
	body := "profiler:\n  dirs: [" + dir + "]\nconvert:\n  thresholds:\n    min_busy_ratio: 0.8\n    short_op_ns: 5000\n"
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if err := LoadFile(&cfg, cfgPath, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	th := cfg.Convert.Thresholds
	if th.MinBusyRatio != 0.8 || th.ShortOpNs != 5000 {
		t.Errorf("thresholds from the file: %+v", th)
	}
	def := DefaultConfig().Convert.Thresholds
	if th.KernelWaitNs != def.KernelWaitNs || th.MemcpyShare != def.MemcpyShare {
		t.Errorf("keys the file leaves out lost their defaults: %+v, defaults %+v", th, def)
	}
	p := &filePipeline{convert: cfg.Convert}
	if got := p.options(fileJob{}).Thresholds; got != th {
		t.Errorf("converter options carry %+v, want %+v", got, th)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"convert", "-o", "/dev/null", "--threshold-min-busy-ratio", "0", h100Trace}, "convert.thresholds.min_busy_ratio: 0 is outside (0, 1]"},
		{[]string{"inspect", "--threshold-memcpy-share", "1.5", h100Trace}, "convert.thresholds.memcpy_share: 1.5 is outside (0, 1]"},
		{[]string{"convert", "-o", "/dev/null", "--threshold-kernel-wait-ns", "-1", h100Trace}, "convert.thresholds.kernel_wait_ns: -1 must be > 0 (ns)"},
	} {
		code, _, stderr := runMain(tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error containing %q", tc.args, code, stderr, tc.want)
		}
	}
}
