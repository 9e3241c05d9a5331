package stepmetrics

import (
	"os"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestMain fails the run if a goroutine outlives the tests.
func TestMain(m *testing.M) { os.Exit(testkit.RunTests(m)) }
