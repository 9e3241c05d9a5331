package app

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
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
		{"disk budget", cfg.Profiler.DiskBudget, ByteSize(20 << 30)},
		{"max spans from env over file", cfg.Convert.MaxSpansPerTrace, 7000},
		{"endpoint expanded", cfg.Output.Endpoint, "https://tempo.example:4318"},
		{"header expanded", cfg.Output.Headers["authorization"], "Bearer s3cret"},
		{"protocol from flag over file", cfg.Output.Protocol, "grpc"},
		{"max request bytes", cfg.Output.MaxRequestBytes, ByteSize(2 << 20)},
		{"retry elapsed", cfg.Output.Retry.MaxElapsedTime, time.Minute},
		{"retry initial default kept", cfg.Output.Retry.InitialInterval, time.Second},
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
		{"protocol", func(c *Config) { c.Output.Protocol = "thrift" }, "output.protocol"},
		{"tiny requests", func(c *Config) { c.Output.MaxRequestBytes = 10 }, "output.max_request_bytes"},
		{"receiver addr", func(c *Config) { c.Receiver.GRPC = "4317" }, "receiver.grpc"},
		{"time zone", func(c *Config) { c.Requests.TimeZone = "Mars/Olympus" }, "requests.time_zone"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"tls pair", func(c *Config) { c.Output.TLS.CertFile = "c.pem" }, "output.tls"},
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

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"3MiB", 3 << 20, true}, {"500MB", 500e6, true}, {"1.5GiB", 3 << 29, true},
		{"1024", 1024, true}, {"2G", 2 << 30, true}, {"-1", 0, false}, {"lots", 0, false}, {"", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseByteSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseByteSize(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
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
