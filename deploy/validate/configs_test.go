package validate

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// checkVLLMLoggingConfig checks a VLLM_LOGGING_CONFIG_PATH dictConfig: a
// python-json-logger formatter with the fields the bridge reads, on a file
// handler used by the vllm logger. It returns the file's path.
func checkVLLMLoggingConfig(t *testing.T, name string, b []byte) string {
	t.Helper()
	var cfg struct {
		Version    int                       `json:"version"`
		Formatters map[string]map[string]any `json:"formatters"`
		Handlers   map[string]map[string]any `json:"handlers"`
		Loggers    map[string]struct {
			Handlers  []string `json:"handlers"`
			Level     string   `json:"level"`
			Propagate bool     `json:"propagate"`
		} `json:"loggers"`
		DisableExisting bool `json:"disable_existing_loggers"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if cfg.Version != 1 {
		t.Errorf("%s: version %d, want 1", name, cfg.Version)
	}
	var jsonFormatter string
	for n, f := range cfg.Formatters {
		if f["()"] == "pythonjsonlogger.jsonlogger.JsonFormatter" {
			jsonFormatter = n
			fields := regexp.MustCompile(`%\((\w+)\)`).FindAllStringSubmatch(str(f["fmt"]), -1)
			var got []string
			for _, m := range fields {
				got = append(got, m[1])
			}
			if strings.Join(got, " ") != "created asctime levelname name message" {
				t.Errorf("%s: JSON formatter fields %v, want created asctime levelname name message", name, got)
			}
			if _, ok := f["datefmt"]; ok {
				t.Errorf("%s: JSON formatter sets datefmt; without it asctime carries milliseconds", name)
			}
		}
	}
	if jsonFormatter == "" {
		t.Fatalf("%s: no pythonjsonlogger.jsonlogger.JsonFormatter formatter", name)
	}
	var file string
	for _, hn := range cfg.Loggers["vllm"].Handlers {
		h := cfg.Handlers[hn]
		if h == nil {
			t.Errorf("%s: logger vllm uses undefined handler %q", name, hn)
			continue
		}
		if h["formatter"] == jsonFormatter {
			file = str(h["filename"])
			if !strings.HasPrefix(str(h["class"]), "logging.") || !strings.HasSuffix(str(h["class"]), "FileHandler") {
				t.Errorf("%s: handler %s class %v is not a logging file handler", name, hn, h["class"])
			}
		}
	}
	if file == "" {
		t.Fatalf("%s: the vllm logger has no handler writing JSON to a file", name)
	}
	if cfg.Loggers["vllm"].Level != "INFO" && cfg.Loggers["vllm"].Level != "DEBUG" {
		t.Errorf("%s: vllm logger level %q hides the INFO request lines", name, cfg.Loggers["vllm"].Level)
	}
	return file
}

func TestExampleVLLMLoggingConfig(t *testing.T) {
	f := checkVLLMLoggingConfig(t, "examples/vllm-logging.json", read(t, "examples", "vllm-logging.json"))
	if f != "/var/log/vllm/vllm.jsonl" {
		t.Errorf("examples/vllm-logging.json writes %q; launch-vllm.sh rewrites /var/log/vllm/vllm.jsonl", f)
	}
}

// TestExampleBridgeConfig checks examples/bridge.yaml parses and keeps the
// code's defaults for the ports and cap it documents as defaults.
func TestExampleBridgeConfig(t *testing.T) {
	cfg := generic(t, "examples/bridge.yaml", read(t, "examples", "bridge.yaml"))
	for _, key := range []string{"service_name", "profiler", "state_file", "convert", "requests", "receiver", "output", "telemetry", "log"} {
		if cfg[key] == nil {
			t.Errorf("examples/bridge.yaml lacks %s (it shows every key)", key)
		}
	}
	if got := str(dig(cfg, "telemetry", "addr")); got != "${BRIDGE_METRICS_ADDR:-127.0.0.1:9464}" {
		t.Errorf("telemetry.addr %q: the default must stay 127.0.0.1:9464", got)
	}
	if got := dig(cfg, "convert", "max_spans_per_trace"); got != float64(10000) {
		t.Errorf("convert.max_spans_per_trace %v, want the default 10000", got)
	}
	if got := str(dig(cfg, "requests", "start_at")); got != "beginning" {
		t.Errorf("requests.start_at %q, want the default beginning", got)
	}
}

func TestJaegerConfigs(t *testing.T) {
	for _, p := range [][]string{{"tools", "e2e", "jaeger-config.yaml"}, {"deploy", "compose", "jaeger.yaml"}} {
		name := filepath.Join(p...)
		cfg := generic(t, name, read(t, p...))
		exts, _ := dig(cfg, "service", "extensions").([]any)
		for _, want := range []string{"jaeger_storage", "jaeger_query"} {
			found := false
			for _, e := range exts {
				found = found || e == want
			}
			if !found {
				t.Errorf("%s: service.extensions lacks %s", name, want)
			}
		}
		for _, e := range dig(cfg, "service", "pipelines", "traces", "exporters").([]any) {
			if dig(cfg, "exporters", str(e)) == nil && str(e) != "jaeger_storage_exporter" {
				t.Errorf("%s: pipeline exporter %v is not configured", name, e)
			}
		}
		if dig(cfg, "receivers", "otlp", "protocols", "grpc", "max_recv_msg_size_mib") != float64(16) {
			t.Errorf("%s: OTLP gRPC max_recv_msg_size_mib must be 16", name)
		}
	}
}

func TestShellScriptsParse(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash not found")
	}
	var scripts []string
	for _, g := range []string{"scripts/*.sh", "examples/*.sh", ".ci/run"} {
		m, _ := filepath.Glob(path(g))
		scripts = append(scripts, m...)
	}
	if len(scripts) < 5 {
		t.Fatalf("found only %v", scripts)
	}
	for _, s := range scripts {
		if out, err := exec.Command(bash, "-n", s).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", s, err, out)
		}
		fi, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", s)
		}
	}
}
