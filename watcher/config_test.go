package watcher

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"go.yaml.in/yaml/v3"
)

func TestConfigFile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]struct {
		Config yaml.Node `yaml:"config"`
		Valid  bool      `yaml:"valid"`
		Key    string    `yaml:"key"`
	}
	if err := yaml.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 5 {
		t.Fatalf("only %d cases decoded", len(cases))
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			if err := c.Config.Decode(&cfg); err != nil {
				t.Fatal(err)
			}
			want := c.Key
			if c.Valid {
				want = ""
			}
			testkit.CheckConfigKey(t, cfg.Validate(), want)
		})
	}
	// The full example decodes every field.
	cfg := DefaultConfig()
	everything := cases["everything"].Config
	if err := everything.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.DiskBudgetBytes != 50<<30 || cfg.MaxFileSize != 10<<30 || cfg.SettleTime != 5*time.Second || cfg.Notify || cfg.MaxTruncatedAttempts != 5 || cfg.FailedDir != "quarantine" {
		t.Errorf("decoded %+v", cfg)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	base := func() Config {
		c := DefaultConfig()
		c.Dirs = []string{"/prof"}
		return c
	}
	tests := []struct {
		name   string
		modify func(*Config)
		key    string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no dirs", func(c *Config) { c.Dirs = nil }, "dirs"},
		{"empty dir", func(c *Config) { c.Dirs = []string{"/a", ""} }, "dirs[1]"},
		{"zero rescan", func(c *Config) { c.RescanInterval = 0 }, "rescan_interval"},
		{"negative settle", func(c *Config) { c.SettleTime = -1 }, "settle_time"},
		{"zero settle is fine", func(c *Config) { c.SettleTime = 0 }, ""},
		{"negative max size", func(c *Config) { c.MaxFileSize = -1 }, "max_file_size"},
		{"zero retention", func(c *Config) { c.StateRetention = 0 }, "state_retention"},
		{"negative budget", func(c *Config) { c.DiskBudgetBytes = -5 }, "disk_budget"},
		{"zero backoff", func(c *Config) { c.RetryBackoff.Initial = 0 }, "retry_backoff.initial"},
		{"max below initial", func(c *Config) { c.RetryBackoff.Max = c.RetryBackoff.Initial / 2 }, "retry_backoff.max"},
		{"negative truncated age", func(c *Config) { c.MaxTruncatedAge = -time.Second }, "max_truncated_age"},
		{"negative truncated attempts", func(c *Config) { c.MaxTruncatedAttempts = -1 }, "max_truncated_attempts"},
		{"bad after_export", func(c *Config) { c.AfterExport = "" }, "after_export"},
		{"bad on_failure", func(c *Config) { c.OnFailure = "delete" }, "on_failure"},
		{"move with dirs", func(c *Config) { c.AfterExport, c.ExportedDir = AfterExportMove, "/x" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.modify(&c)
			testkit.CheckConfigKey(t, c.Validate(), tt.key)
			if tt.key == "" {
				return
			}
			var ce *ConfigError
			if _, err := New(c, nil); !errors.As(err, &ce) {
				t.Errorf("New accepted an invalid config: %v", err)
			}
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	b := Backoff{Initial: time.Second, Max: 10 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		if got := b.delay(n); got != want {
			t.Errorf("delay(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestNewRejectsBadState(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, t.TempDir())
	write(t, cfg.StatePath, []byte(`{"version": 99, "records": []}`))
	if _, err := New(cfg, nil); err == nil {
		t.Fatal("New accepted a state file from a newer version")
	}
	write(t, cfg.StatePath, []byte(`{"version": 1, "records": [{"fingerprint": "xxh64:a:b", "size": 3, "status": "exported"}]}`))
	w, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.StatePath() != cfg.StatePath {
		t.Errorf("StatePath = %s", w.StatePath())
	}
	cfg.StatePath = ""
	w, err = New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cfg.Dirs[0], ".vllm-otel-bridge-state.json"); w.StatePath() != want {
		t.Errorf("default StatePath = %s, want %s", w.StatePath(), want)
	}
}
