package watcher

import (
	"errors"
	"fmt"
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
	// New must refuse what Validate refuses, with the same *ConfigError.
	check := func(c Config) error {
		err := c.Validate()
		if err == nil {
			return nil
		}
		var ce *ConfigError
		if _, nerr := New(c, nil); !errors.As(nerr, &ce) || ce.Key != err.(*ConfigError).Key {
			return fmt.Errorf("New does not refuse it as Validate does (%v): %v", err, nerr)
		}
		return err
	}
	testkit.CheckConfigCases(t, base, check, []testkit.ConfigCase[Config]{
		{Name: "defaults", Modify: func(*Config) {}, Key: ""},
		{Name: "no dirs", Modify: func(c *Config) { c.Dirs = nil }, Key: "dirs"},
		{Name: "empty dir", Modify: func(c *Config) { c.Dirs = []string{"/a", ""} }, Key: "dirs[1]"},
		{Name: "zero rescan", Modify: func(c *Config) { c.RescanInterval = 0 }, Key: "rescan_interval"},
		{Name: "negative settle", Modify: func(c *Config) { c.SettleTime = -1 }, Key: "settle_time"},
		{Name: "zero settle is fine", Modify: func(c *Config) { c.SettleTime = 0 }, Key: ""},
		{Name: "negative max size", Modify: func(c *Config) { c.MaxFileSize = -1 }, Key: "max_file_size"},
		{Name: "zero retention", Modify: func(c *Config) { c.StateRetention = 0 }, Key: "state_retention"},
		{Name: "negative budget", Modify: func(c *Config) { c.DiskBudgetBytes = -5 }, Key: "disk_budget"},
		{Name: "zero backoff", Modify: func(c *Config) { c.RetryBackoff.Initial = 0 }, Key: "retry_backoff.initial"},
		{Name: "max below initial", Modify: func(c *Config) { c.RetryBackoff.Max = c.RetryBackoff.Initial / 2 }, Key: "retry_backoff.max"},
		{Name: "negative truncated age", Modify: func(c *Config) { c.MaxTruncatedAge = -time.Second }, Key: "max_truncated_age"},
		{Name: "negative truncated attempts", Modify: func(c *Config) { c.MaxTruncatedAttempts = -1 }, Key: "max_truncated_attempts"},
		{Name: "bad after_export", Modify: func(c *Config) { c.AfterExport = "" }, Key: "after_export"},
		{Name: "bad on_failure", Modify: func(c *Config) { c.OnFailure = "delete" }, Key: "on_failure"},
		{Name: "move with dirs", Modify: func(c *Config) { c.AfterExport, c.ExportedDir = AfterExportMove, "/x" }, Key: ""},
	})
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
