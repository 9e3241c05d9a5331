package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/version"
)

const usage = `vllm-otel-bridge turns vLLM's PyTorch profiler traces into OpenTelemetry spans
tied to the requests vLLM served, and ships them over OTLP.

Usage:
  vllm-otel-bridge run [flags]              watch vLLM's profiler directory (the daemon)
  vllm-otel-bridge convert [flags] TRACE... convert trace files already on disk
  vllm-otel-bridge diff [flags] BASE NEW    compare two profiles: what changed, beyond noise
  vllm-otel-bridge inspect [flags] TRACE... report on trace files: steps, kernels, checklist
  vllm-otel-bridge version                  print the version

Run 'vllm-otel-bridge COMMAND -h' for a command's flags. Every flag of run can
also be set in the YAML file given by --config and by the environment variable
VLLM_OTEL_BRIDGE_<FLAG> (e.g. VLLM_OTEL_BRIDGE_PROFILER_DIR); flags win over the
environment, which wins over the file.
`

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

// reportedError is a failure whose details were already printed, one line
// per input: Main exits 1 without printing it again.
type reportedError struct{ failed, total int }

func (e reportedError) Error() string {
	return fmt.Sprintf("%d of %d inputs failed", e.failed, e.total)
}

// Main runs the command line args and returns the process exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runCommand(ctx, args[1:], stdout, stderr, getenv)
	case "convert":
		err = convertCommand(ctx, args[1:], stdout, stderr, getenv)
	case "diff":
		err = diffCommand(ctx, args[1:], stdout, stderr)
	case "inspect":
		err = inspectCommand(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, version.Get().String())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "vllm-otel-bridge: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(reportedError)):
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "vllm-otel-bridge: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "vllm-otel-bridge: %v\n", err)
		return 1
	}
}

// newLogger builds the one logger passed down to every component.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q is not text or json", format)
}
