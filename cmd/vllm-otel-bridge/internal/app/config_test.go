package app

import (
	"flag"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/bytesize"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadFileAndPrecedence(t *testing.T) {
	cfg := DefaultConfig()
	getenv := env(map[string]string{
		"ENDPOINT":                             "https://tempo.example:4318",
		"TOKEN":                                "s3cret",
		"VLLM_OTEL_BRIDGE_MAX_SPANS_PER_TRACE": "7000", // env beats file
		"VLLM_OTEL_BRIDGE_LOG_LEVEL":           "debug",
		"VLLM_OTEL_BRIDGE_PROFILER_DIR":        "/env/dir", // beaten by the flag below
	})
	if err := LoadFile(&cfg, "testdata/config.yaml", getenv); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bindRunFlags(fs, &cfg)
	if err := parseWithEnv(fs, []string{"--profiler-dir", "/flag/one", "--profiler-dir=/flag/two", "--protocol", "grpc"}, getenv); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"service_name default in ${:-}", cfg.ServiceName, "vllm-prod"},
		{"dirs from flags replace file and env", strings.Join(cfg.Profiler.Dirs, ","), "/flag/one,/flag/two"},
		{"settle_time from file", cfg.Profiler.SettleTime, 3 * time.Second},
		{"rescan default kept", cfg.Profiler.RescanInterval, 10 * time.Second},
		{"disk budget", cfg.Profiler.DiskBudgetBytes, bytesize.ByteSize(20 << 30)},
		{"max spans from env over file", cfg.Convert.MaxSpansPerTrace, 7000},
		{"endpoint expanded", cfg.Output.Sink.Transport.Endpoint, "https://tempo.example:4318"},
		{"header expanded", cfg.Output.Sink.Transport.Headers["authorization"], "Bearer s3cret"},
		{"protocol from flag over file", cfg.Output.Sink.Protocol, "grpc"},
		{"max request bytes", cfg.Output.Policy.MaxRequestBytes, bytesize.ByteSize(2 << 20)},
		{"retry elapsed", cfg.Output.Policy.Retry.MaxElapsedTime, time.Minute},
		{"retry initial default kept", cfg.Output.Policy.Retry.InitialInterval, time.Second},
		{"log level from env", cfg.Log.Level, "debug"},
		{"log format from file", cfg.Log.Format, "json"},
		{"resource attr", cfg.ResourceAttributes["deployment.environment"], "staging"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
}

func TestLoadFileRejectsUnknownKey(t *testing.T) {
	cfg := DefaultConfig()
	err := loadYAML(&cfg, strings.NewReader("profiler:\n  dirz: [/x]\n"), "bad.yaml", env(nil))
	if err == nil || !strings.Contains(err.Error(), "dirz") || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("want an error naming the file and the key, got %v", err)
	}
}

func TestValidateNamesTheBadKey(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.Profiler.Dirs = []string{"/p"}
		return c
	}
	tests := []struct {
		name    string
		modify  func(*Config)
		wantKey string // "" = valid
	}{
		{"defaults plus a dir are valid", func(*Config) {}, ""},
		{"no dir", func(c *Config) { c.Profiler.Dirs = nil }, "profiler.dirs"},
		{"after export", func(c *Config) { c.Profiler.AfterExport = "shred" }, "profiler.after_export"},
		{"on failure", func(c *Config) { c.Profiler.OnFailure = "delete" }, "profiler.on_failure"},
		{"negative cap", func(c *Config) { c.Convert.MaxSpansPerTrace = -1 }, "convert.max_spans_per_trace"},
		{"protocol", func(c *Config) { c.Output.Sink.Protocol = "thrift" }, "output.protocol"},
		{"tiny requests", func(c *Config) { c.Output.Policy.MaxRequestBytes = 10 }, "output.max_request_bytes"},
		{"receiver addr", func(c *Config) { c.Receiver.GRPCAddr = "4317" }, "receiver.grpc"},
		{"time zone", func(c *Config) { c.Requests.TimeZone = "Mars/Olympus" }, "requests.time_zone"},
		{"task pattern without its group", func(c *Config) { c.Requests.TaskPattern = "/logs/(.+)/" }, "requests.task_pattern"},
		{"no log file may be open", func(c *Config) { c.Requests.MaxFollowed = 0 }, "requests.max_followed"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"tls pair", func(c *Config) { c.Output.Sink.Transport.TLS.CertFile = "c.pem" }, "output.tls"},
		{"rescan", func(c *Config) { c.Profiler.RescanInterval = 0 }, "profiler.rescan_interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.modify(&c)
			err := c.Validate()
			if tc.wantKey == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantKey) {
				t.Fatalf("want error naming %s, got %v", tc.wantKey, err)
			}
		})
	}
}

func TestExpandEnv(t *testing.T) {
	getenv := env(map[string]string{"A": "1"})
	for in, want := range map[string]string{
		"${A}":        "1",
		"x${B:-def}y": "xdefy",
		"$A ${A}":     "$A 1",
		"${unclosed":  "${unclosed",
		"${B}":        "",
	} {
		if got := expandEnv(in, getenv); got != want {
			t.Errorf("expandEnv(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSchemaKeys pins the YAML schema users write: the sections are the
// components' own Config types now, and none of them may add, drop or
// rename a key by accident (a field that is not a user key is tagged "-").
// testdata/schema-keys.golden.txt, one dotted key a line, sorted, started
// as the schema of the hand-written structs this replaced; a key added,
// dropped or renamed on purpose is rewritten with -update and shows in the
// diff of that file.
func TestSchemaKeys(t *testing.T) {
	var got []string
	yamlKeys(reflect.TypeOf(Config{}), "", &got)
	slices.Sort(got)
	testkit.Golden(t, "testdata/schema-keys.golden.txt", []byte(strings.Join(got, "\n")+"\n"), *update)
}

// yamlKeys lists the dotted yaml keys of t: inline structs merge into their
// parent, nested structs (but time types) are sections.
func yamlKeys(t reflect.Type, prefix string, out *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case opts == "inline":
			yamlKeys(ft, prefix, out)
		case ft.Kind() == reflect.Struct && ft.PkgPath() != "time":
			yamlKeys(ft, prefix+name+".", out)
		default:
			*out = append(*out, prefix+name)
		}
	}
}

// TestShippedConfigsLoad decodes the configs users copy (examples/ and the
// Kubernetes ConfigMap) with unknown keys refused, and validates them.
func TestShippedConfigsLoad(t *testing.T) {
	root := "../../../../"
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	raw, err := os.ReadFile(root + "deploy/kubernetes/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil || cm.Data["bridge.yaml"] == "" {
		t.Fatalf("configmap: no bridge.yaml (%v)", err)
	}
	example, err := os.ReadFile(root + "examples/bridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"examples/bridge.yaml": string(example), "configmap bridge.yaml": cm.Data["bridge.yaml"]} {
		cfg := DefaultConfig()
		if err := loadYAML(&cfg, strings.NewReader(text), name, env(nil)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
