package exporter

import (
	"os"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestMain fails the run if a goroutine (an Exporter's sender or ticker,
// a client's connection) outlives the tests: every test shuts its
// exporters down.
func TestMain(m *testing.M) { os.Exit(testkit.RunTests(m)) }
