package receiver

import (
	"os"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestMain fails the run if servers, connections or handlers of this
// package (or any other goroutine) outlive the tests that started them.
func TestMain(m *testing.M) { os.Exit(testkit.RunTests(m)) }
