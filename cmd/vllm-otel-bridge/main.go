// Command vllm-otel-bridge turns the PyTorch profiler traces vLLM writes into
// OpenTelemetry spans tied to the requests vLLM served, and ships them over
// OTLP. See the README for the run, convert and version subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/cmd/vllm-otel-bridge/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
