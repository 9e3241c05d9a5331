package jsonscan

import (
	"os"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.RunTests(m)) }
