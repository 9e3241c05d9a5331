package capture

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// testdata/config.yaml is a profiling: section as a user writes it; it
// decodes with unknown keys rejected, as the daemon decodes its file.
func TestConfigYAML(t *testing.T) {
	f, err := os.Open("testdata/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var doc struct {
		Profiling Config `yaml:"profiling"`
	}
	doc.Profiling = DefaultConfig()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	c := doc.Profiling
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.VLLMURL != "http://127.0.0.1:8000" || c.Every != 15*time.Minute || c.Duration != 20*time.Second ||
		c.MaxPerHour != 6 || c.APIKeyFile != "/var/run/secrets/vllm/api-key" || len(c.Triggers) != 2 {
		t.Fatalf("decoded %+v", c)
	}
	tr := c.Triggers[0]
	if tr.Name != "p99_time_to_first_token_seconds" || tr.Quantile != 0.99 || tr.Above != 2 || tr.Window != 5*time.Minute || tr.MinCount != 20 {
		t.Fatalf("trigger 0 %+v", tr)
	}
	if c.Triggers[1].Name != "slow_e2e" || c.Triggers[1].Labels["model_name"] != "meta-llama/Llama-3.1-8B-Instruct" {
		t.Fatalf("trigger 1 %+v", c.Triggers[1])
	}
	if got := c.metricsURL(); got != "http://127.0.0.1:8000/metrics" {
		t.Fatalf("metrics URL %s", got)
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.VLLMURL = "http://vllm:8000"
		return c
	}
	trig := Trigger{Metric: "vllm:e2e_request_latency_seconds", Quantile: 0.99, Above: 10, Window: 5 * time.Minute}
	cases := []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"defaults off", func(c *Config) { *c = DefaultConfig() }, ""},
		{"on with defaults", func(*Config) {}, ""},
		{"schedule without url", func(c *Config) { c.VLLMURL = ""; c.Every = time.Minute }, "profiling.vllm_url (--vllm-url) is required when profiling.every is set"},
		{"bad url", func(c *Config) { c.VLLMURL = "vllm:8000" }, "profiling.vllm_url"},
		{"duration above max", func(c *Config) { c.Duration = 10 * time.Minute }, "profiling.duration (10m0s) exceeds profiling.max_duration (5m0s)"},
		{"every not above duration", func(c *Config) { c.Every = 30 * time.Second }, "profiling.every (30s) must be longer than profiling.duration (30s)"},
		{"steps schedule", func(c *Config) { c.Steps = 20; c.Every = 20 * time.Second }, ""},
		{"no duration", func(c *Config) { c.Duration = 0; c.Every = time.Hour }, "profiling.duration (--profile-duration) or profiling.steps is required"},
		{"max per hour", func(c *Config) { c.MaxPerHour = 0 }, "profiling.max_per_hour must be > 0"},
		{"no max duration", func(c *Config) { c.MaxDuration = 0 }, "profiling.max_duration must be > 0"},
		{"trigger ok", func(c *Config) { c.Triggers = []Trigger{trig} }, ""},
		{"trigger quantile", func(c *Config) { t := trig; t.Quantile = 99; c.Triggers = []Trigger{t} }, "profiling.triggers[0].quantile must be in (0, 1)"},
		{"trigger metric", func(c *Config) { t := trig; t.Metric = ""; c.Triggers = []Trigger{t} }, "profiling.triggers[0].metric is required"},
		{"trigger window", func(c *Config) { t := trig; t.Window = 20 * time.Second; c.Triggers = []Trigger{t} }, "profiling.triggers[0].window (20s) must be at least 2 × profiling.poll_interval (15s)"},
		{"trigger above", func(c *Config) { t := trig; t.Above = 0; c.Triggers = []Trigger{t} }, "profiling.triggers[0].above must be a positive threshold"},
		{"trigger names", func(c *Config) { c.Triggers = []Trigger{trig, trig} }, `profiling.triggers[1].name "p99_e2e_request_latency_seconds" is used twice`},
		{"percentile name", func(c *Config) {
			t := trig
			t.Quantile = 0.95
			t2 := trig
			t2.Quantile = 0.995
			c.Triggers = []Trigger{t, t2, t}
		}, `profiling.triggers[2].name "p95_e2e_request_latency_seconds" is used twice`},
		{"reserved name", func(c *Config) { t := trig; t.Name = "schedule"; c.Triggers = []Trigger{t} }, "is reserved"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRegisterFlags(t *testing.T) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	RegisterFlags(fs, &c)
	err := fs.Parse([]string{"--vllm-url=http://127.0.0.1:8000", "--vllm-api-key-file=/k", "--profile-every=10m",
		"--profile-duration=15s", "--control-token-file=/t", "--profile-steps=0"})
	if err != nil {
		t.Fatal(err)
	}
	if c.VLLMURL != "http://127.0.0.1:8000" || c.APIKeyFile != "/k" || c.Every != 10*time.Minute || c.Duration != 15*time.Second || c.ControlTokenFile != "/t" {
		t.Fatalf("flags gave %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The API key comes from the file, else VLLM_API_KEY; printing the holder
// never shows it.
func TestSecret(t *testing.T) {
	env := map[string]string{APIKeyEnv: " from-env "}
	s := secret{env: APIKeyEnv, getenv: func(k string) string { return env[k] }}
	if v, err := s.value(); err != nil || v != "from-env" {
		t.Fatalf("env: %q %v", v, err)
	}
	f := t.TempDir() + "/key"
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.file = f
	if v, err := s.value(); err != nil || v != "from-file" {
		t.Fatalf("file: %q %v", v, err)
	}
	if out := fmt.Sprintf("%v %+v %#v %s", s, s, s, s); strings.Contains(out, "from-") {
		t.Fatalf("secret printed: %s", out)
	}
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.value(); err == nil {
		t.Fatal("empty key file accepted")
	}
}
