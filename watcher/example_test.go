package watcher_test

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher"
)

// convertAndExport stands for the daemon's converter + exporter: it
// returns once the backend acknowledged every batch of the file.
func convertAndExport(ctx context.Context, f watcher.File) error { return nil }

// errMalformed stands for the converter's "malformed input" sentinel.
var errMalformed = errors.New("malformed trace")

// The daemon's loop: take a complete file, export it, then settle it with
// exactly one of Done, Retry or Failed.
func Example() {
	cfg := watcher.DefaultConfig()
	cfg.Dirs = []string{"/var/lib/vllm/profiles"}
	cfg.StatePath = "/var/lib/vllm-otel-bridge/state.json"
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	w, err := watcher.New(cfg, log)
	if err != nil {
		log.Error("bad watcher config", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx) //nolint:errcheck // returns nil once ctx is done

	for {
		f, err := w.Next(ctx)
		if err != nil {
			return // ctx done, or Run stopped (watcher.ErrClosed)
		}
		switch err := convertAndExport(ctx, f); {
		case err == nil:
			if err := w.Done(f); err != nil {
				// State not saved (errors.Is(err, watcher.ErrState)): the
				// file stays in flight; offer it again so it is not lost.
				log.Error("recording export failed", "err", err)
				_ = w.Retry(f, err)
			}
		case ctx.Err() != nil:
			return // shutting down mid-file: it is sent again after restart
		case errors.Is(err, errMalformed):
			_ = w.Failed(f, err)
		default: // backend down, or truncated (watcher.IsTruncated)
			_ = w.Retry(f, err)
		}
	}
}
