package linker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoggingConfigExample checks the VLLM_LOGGING_CONFIG_PATH example the
// README ships: a dictConfig whose JSON formatter writes the fields the
// JSON parser reads by default (created for the time, message).
func TestLoggingConfigExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "vllm_logging_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Version    int `json:"version"`
		Formatters map[string]struct {
			Class  string `json:"class"`
			Format string `json:"format"`
		} `json:"formatters"`
		Loggers map[string]struct {
			Level string `json:"level"`
		} `json:"loggers"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	f, ok := cfg.Formatters["json"]
	if cfg.Version != 1 || !ok || !strings.Contains(f.Class, "JsonFormatter") {
		t.Fatalf("config %+v", cfg)
	}
	for _, field := range []string{"%(created)f", "%(message)s"} {
		if !strings.Contains(f.Format, field) {
			t.Errorf("format lacks %s", field)
		}
	}
	if cfg.Loggers["vllm"].Level != "INFO" {
		t.Error("vllm logger must log INFO (request lines are INFO)")
	}
}
