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
			testkit.CheckConfigKey(t, c.Validate(), tc.wantKey)
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	testkit.CheckConfigCases(t, DefaultConfig, Config.Validate, []testkit.ConfigCase[Config]{
		{Name: "default", Modify: func(*Config) {}, Key: ""},
		{Name: "port 0", Modify: func(c *Config) { c.GRPCAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0" }, Key: ""},
		{Name: "http off", Modify: func(c *Config) { c.HTTPAddr = "" }, Key: ""},
		{Name: "no port", Modify: func(c *Config) { c.GRPCAddr = "127.0.0.1" }, Key: "grpc"},
		{Name: "bad http port", Modify: func(c *Config) { c.HTTPAddr = "127.0.0.1:http" }, Key: "http"},
		{Name: "same address", Modify: func(c *Config) { c.HTTPAddr = c.GRPCAddr }, Key: "http"},
		{Name: "zero message size", Modify: func(c *Config) { c.MaxRecvMessageBytes = 0 }, Key: "max_message_bytes"},
		{Name: "huge message size", Modify: func(c *Config) { c.MaxRecvMessageBytes, c.MaxPendingBytes = 4<<30, 8<<30 }, Key: "max_message_bytes"},
		{Name: "pending equals message", Modify: func(c *Config) { c.MaxPendingBytes = c.MaxRecvMessageBytes }, Key: ""},
		{Name: "pending below message", Modify: func(c *Config) { c.MaxPendingBytes = c.MaxRecvMessageBytes - 1 }, Key: "max_pending_bytes"},
		{Name: "zero retry", Modify: func(c *Config) { c.RetryAfter = 0 }, Key: "retry_after"},
		{Name: "long retry", Modify: func(c *Config) { c.RetryAfter = 2 * time.Hour }, Key: "retry_after"},
		{Name: "tls without cert", Modify: func(c *Config) { c.TLS = TLSConfig{KeyFile: "k"} }, Key: "tls.cert_file"},
		{Name: "tls", Modify: func(c *Config) { c.TLS = TLSConfig{CertFile: "c", KeyFile: "k"} }, Key: ""},
	})
}
