package tail

import (
	"os"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestMain fails the package if goroutines started by the tests outlive
// them (a follower that ignores its context).
func TestMain(m *testing.M) { os.Exit(testkit.RunTests(m)) }
