package exporter

import (
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configtls"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

func TestConfigFile(t *testing.T) {
	wantErr := map[string]string{
		"default":          "",
		"tuned":            "",
		"tiny_requests":    "max_request_bytes",
		"no_senders":       "max_in_flight",
		"inverted_retry":   "retry.max_interval",
		"negative_elapsed": "retry.max_elapsed_time",
	}
	raw := testkit.YAMLCases(t, "testdata/config.yaml")
	if len(raw) != len(wantErr) {
		t.Fatalf("%d cases in config.yaml, %d expected", len(raw), len(wantErr))
	}
	for name, node := range raw {
		t.Run(name, func(t *testing.T) {
			want, ok := wantErr[name]
			if !ok {
				t.Fatalf("unexpected case %s", name)
			}
			cfg := DefaultConfig()
			if err := node.Decode(&cfg); err != nil {
				t.Fatal(err)
			}
			testkit.CheckConfigKey(t, cfg.Validate(), want)
			if name == "tuned" && (cfg.MaxRequestBytes != 2<<20 || cfg.Retry.MaxElapsedTime != 5*time.Minute) {
				t.Fatalf("size or durations not decoded: %+v", cfg)
			}
		})
	}
	// Not yaml keys, but still checked.
	negQueue, zeroFlush := DefaultConfig(), DefaultConfig()
	negQueue.QueueSize, zeroFlush.FlushInterval = -1, 0
	testkit.CheckConfigKey(t, negQueue.Validate(), "queue_size")
	testkit.CheckConfigKey(t, zeroFlush.Validate(), "flush_interval")
}

func TestConfigModifications(t *testing.T) {
	testkit.CheckConfigCases(t, DefaultConfig, Config.Validate, []testkit.ConfigCase[Config]{
		{Name: "defaults", Modify: func(*Config) {}, Key: ""},
		{Name: "max bytes at the top", Modify: func(c *Config) { c.MaxRequestBytes = MaxRequestBytes }, Key: ""},
		{Name: "max bytes too big", Modify: func(c *Config) { c.MaxRequestBytes = MaxRequestBytes + 1 }, Key: "max_request_bytes"},
		{Name: "too many senders", Modify: func(c *Config) { c.MaxInFlight = 1000 }, Key: "max_in_flight"},
		{Name: "unbuffered queue", Modify: func(c *Config) { c.QueueSize = 0 }, Key: ""},
		{Name: "zero initial interval", Modify: func(c *Config) { c.Retry.InitialInterval = 0 }, Key: "retry.initial_interval"},
	})
}

func TestTransportOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    TransportOptions
		key  string
	}{
		{"empty", TransportOptions{}, ""},
		{"gzip", TransportOptions{Compression: "gzip"}, ""},
		{"zstd", TransportOptions{Compression: "zstd"}, "compression"},
		{"cert without key", TransportOptions{TLS: configtls.Config{CertFile: "c.pem"}}, "tls.cert_file"},
		{"insecure with ca", TransportOptions{Insecure: true, TLS: configtls.Config{CAFile: "ca.pem"}}, "insecure"},
		{"negative timeout", TransportOptions{Timeout: -time.Second}, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { testkit.CheckConfigKey(t, tc.o.Validate(), tc.key) })
	}
	if _, err := NewGRPCClient(TransportOptions{TLS: configtls.Config{CAFile: "testdata/config.yaml"}}); err == nil {
		t.Fatal("a CA file without certificates was accepted")
	}
	if _, err := NewHTTPClient(HTTPOptions{TransportOptions: TransportOptions{TLS: configtls.Config{CAFile: "testdata/missing.pem"}}}); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
}

func TestNewFallsBackOnInvalidConfig(t *testing.T) {
	bad := DefaultConfig()
	bad.QueueSize = -5
	e := New(&DiscardClient{}, bad, nil)
	if got := e.Config(); got != DefaultConfig() {
		t.Fatalf("invalid config kept: %+v", got)
	}
	partial := Config{MaxRequestBytes: 8 << 10}
	if got := New(&DiscardClient{}, partial, nil).Config(); got.MaxRequestBytes != 8<<10 || got.MaxInFlight != 4 || got.FlushInterval != time.Second {
		t.Fatalf("zero fields not defaulted: %+v", got)
	}
}
