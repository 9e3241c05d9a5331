package receiver

import (
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// loadConfigs decodes each named config in testdata/config.yaml over the
// defaults.
func loadConfigs(t *testing.T) map[string]Config {
	t.Helper()
	raw := testkit.YAMLCases(t, "testdata/config.yaml")
	out := make(map[string]Config, len(raw))
	for name, node := range raw {
		c := DefaultConfig()
		if err := node.Decode(&c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = c
	}
	return out
}

func TestConfigFile(t *testing.T) {
	configs := loadConfigs(t)
	tests := []struct {
		name    string
		wantKey string // "" means valid
		check   func(*testing.T, Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c != DefaultConfig() {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "full", check: func(t *testing.T, c Config) {
			want := Config{GRPCAddr: "127.0.0.1:14317", HTTPAddr: "[::1]:14318",
				TLS:                 TLSConfig{CertFile: "/etc/vllm-otel-bridge/tls.crt", KeyFile: "/etc/vllm-otel-bridge/tls.key", ClientCAFile: "/etc/vllm-otel-bridge/ca.crt"},
				MaxRecvMessageBytes: 4 << 20, MaxPendingBytes: 32 << 20, RetryAfter: DefaultRetryAfter}
			if c != want {
				t.Errorf("got %+v, want %+v", c, want)
			}
		}},
		{name: "grpc_only", check: func(t *testing.T, c Config) {
			if c.HTTPAddr != "" || c.GRPCAddr != DefaultGRPCAddr || !c.Enabled() {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "all_interfaces"},
		{name: "disabled", check: func(t *testing.T, c Config) {
			if c.Enabled() {
				t.Error("Enabled with both listeners off")
			}
		}},
		{name: "pending_below_message", wantKey: "max_pending_bytes"},
		{name: "tls_without_key", wantKey: "tls.key_file"},
		{name: "bad_port", wantKey: "grpc"},
	}
	if len(tests) != len(configs) {
		t.Errorf("testdata/config.yaml has %d configs, the table %d", len(configs), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := configs[tc.name]
			if !ok {
				t.Fatalf("no config %q in testdata/config.yaml", tc.name)
			}
			checkValidate(t, c, tc.wantKey)
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func checkValidate(t *testing.T, c Config, wantKey string) {
	t.Helper()
	testkit.CheckConfigKey(t, c.Validate(), wantKey)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*Config)
		wantKey string
	}{
		{"default", func(*Config) {}, ""},
		{"port 0", func(c *Config) { c.GRPCAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0" }, ""},
		{"http off", func(c *Config) { c.HTTPAddr = "" }, ""},
		{"no port", func(c *Config) { c.GRPCAddr = "127.0.0.1" }, "grpc"},
		{"bad http port", func(c *Config) { c.HTTPAddr = "127.0.0.1:http" }, "http"},
		{"same address", func(c *Config) { c.HTTPAddr = c.GRPCAddr }, "http"},
		{"zero message size", func(c *Config) { c.MaxRecvMessageBytes = 0 }, "max_message_bytes"},
		{"huge message size", func(c *Config) { c.MaxRecvMessageBytes, c.MaxPendingBytes = 4<<30, 8<<30 }, "max_message_bytes"},
		{"pending equals message", func(c *Config) { c.MaxPendingBytes = c.MaxRecvMessageBytes }, ""},
		{"pending below message", func(c *Config) { c.MaxPendingBytes = c.MaxRecvMessageBytes - 1 }, "max_pending_bytes"},
		{"zero retry", func(c *Config) { c.RetryAfter = 0 }, "retry_after"},
		{"long retry", func(c *Config) { c.RetryAfter = 2 * time.Hour }, "retry_after"},
		{"tls without cert", func(c *Config) { c.TLS = TLSConfig{KeyFile: "k"} }, "tls.cert_file"},
		{"tls", func(c *Config) { c.TLS = TLSConfig{CertFile: "c", KeyFile: "k"} }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.modify(&c)
			checkValidate(t, c, tc.wantKey)
		})
	}
}
