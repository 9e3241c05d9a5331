package watcher

import (
	"fmt"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/bytesize"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configerr"
)

// After-export policies (Config.AfterExport).
const (
	AfterExportKeep   = "keep"   // leave the file where it is
	AfterExportDelete = "delete" // remove it
	AfterExportMove   = "move"   // move it into ExportedDir
)

// On-failure policies (Config.OnFailure).
const (
	OnFailureKeep = "keep" // leave the file; the state file remembers it failed
	OnFailureMove = "move" // move it into FailedDir
)

// Backoff is an exponential backoff: Initial, doubled per attempt up to Max.
type Backoff struct {
	Initial time.Duration `yaml:"initial"`
	Max     time.Duration `yaml:"max"`
}

// delay returns the wait before attempt n (n >= 1).
func (b Backoff) delay(n int) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Config configures a Watcher. Start from DefaultConfig. The yaml keys are
// the user's, under the daemon's profiler section (profiler.settle_time…);
// ConfigError.Key names them the same way. Fields tagged "-" are not user
// keys: the daemon sets StatePath from its top-level state_file.
type Config struct {
	// Dirs are the profiler directories (vLLM's torch_profiler_dir).
	Dirs []string `yaml:"dirs"`
	// Recursive also watches subdirectories, except "exported", "failed",
	// "capture_traces" and the configured ExportedDir/FailedDir.
	Recursive bool `yaml:"recursive"`
	// Notify uses fsnotify to notice files promptly. False: rescan only (for
	// file systems without inotify, such as NFS).
	Notify bool `yaml:"notify"`
	// RescanInterval is how often every directory is listed again. fsnotify
	// is a hint; the rescan is the truth.
	RescanInterval time.Duration `yaml:"rescan_interval"`
	// SettleTime is how long size and mtime must stay unchanged before a
	// file is checked and offered. A file whose mtime is already older than
	// SettleTime when first seen counts as settled.
	SettleTime time.Duration `yaml:"settle_time"`
	// FollowSymlinks false: a symlink is followed only if it resolves to a
	// file inside the watched directory. True: followed wherever it points.
	// Symlinked directories are never followed.
	FollowSymlinks bool `yaml:"follow_symlinks"`
	// MaxFileSize (bytes on disk, 0 = no limit): larger files are failed
	// with ErrTooLarge.
	MaxFileSize bytesize.ByteSize `yaml:"max_file_size"`
	// StatePath is the state file. Empty: ".vllm-otel-bridge-state.json" in
	// the first of Dirs.
	StatePath string `yaml:"-"`
	// StateRetention is how long a record is kept after its file was last
	// seen on disk.
	StateRetention time.Duration `yaml:"state_retention"`
	// AfterExport is "keep", "delete" or "move" (into ExportedDir).
	AfterExport string `yaml:"after_export"`
	// ExportedDir: empty means "<dir>/exported"; a relative path is taken
	// relative to each watched directory.
	ExportedDir string `yaml:"exported_dir"`
	// OnFailure is "keep" or "move" (into FailedDir).
	OnFailure string `yaml:"on_failure"`
	// FailedDir: empty means "<dir>/failed"; relative as ExportedDir.
	FailedDir string `yaml:"failed_dir"`
	// DiskBudgetBytes (0 = none): when the trace files of one watched
	// directory (with its exported and failed directories) exceed it, the
	// oldest already exported files are deleted until it fits. Files not
	// yet exported are never deleted; the overrun is logged and reported in
	// Stats instead.
	DiskBudgetBytes bytesize.ByteSize `yaml:"disk_budget"`
	// RetryBackoff paces files whose export or read failed transiently.
	RetryBackoff Backoff `yaml:"-"`
	// A file that keeps reading as truncated (an incomplete gzip stream, or
	// Retry with an error matching IsTruncated) is failed
	// once it has read as truncated MaxTruncatedAttempts times AND has not
	// been modified for MaxTruncatedAge. Zero disables that condition; both
	// zero means such a file waits for ever.
	MaxTruncatedAge      time.Duration `yaml:"max_truncated_age"`
	MaxTruncatedAttempts int           `yaml:"max_truncated_attempts"`
}

// DefaultConfig returns the defaults. Dirs is empty and must be set.
func DefaultConfig() Config {
	return Config{
		Notify:               true,
		RescanInterval:       10 * time.Second,
		SettleTime:           2 * time.Second,
		StateRetention:       72 * time.Hour,
		AfterExport:          AfterExportKeep,
		OnFailure:            OnFailureMove,
		RetryBackoff:         Backoff{Initial: time.Second, Max: time.Minute},
		MaxTruncatedAge:      10 * time.Minute,
		MaxTruncatedAttempts: 3,
	}
}

// ConfigError names the configuration key that is wrong (Component
// "watcher", Key as under the watcher's section, e.g. "settle_time",
// "dirs[1]"; the type all components share).
type ConfigError = configerr.Error

// Validate checks every key and returns a *ConfigError for the first bad one.
func (c Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{Component: "watcher", Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	if len(c.Dirs) == 0 {
		return bad("dirs", "at least one directory is required")
	}
	for i, d := range c.Dirs {
		if d == "" {
			return bad(fmt.Sprintf("dirs[%d]", i), "empty path")
		}
	}
	switch {
	case c.RescanInterval <= 0:
		return bad("rescan_interval", "must be positive, got %v", c.RescanInterval)
	case c.SettleTime < 0:
		return bad("settle_time", "must not be negative, got %v", c.SettleTime)
	case c.MaxFileSize < 0:
		return bad("max_file_size", "must not be negative, got %d", c.MaxFileSize)
	case c.StateRetention <= 0:
		return bad("state_retention", "must be positive, got %v", c.StateRetention)
	case c.DiskBudgetBytes < 0:
		return bad("disk_budget", "must not be negative, got %d", c.DiskBudgetBytes)
	case c.RetryBackoff.Initial <= 0:
		return bad("retry_backoff.initial", "must be positive, got %v", c.RetryBackoff.Initial)
	case c.RetryBackoff.Max < c.RetryBackoff.Initial:
		return bad("retry_backoff.max", "must be at least retry_backoff.initial (%v), got %v", c.RetryBackoff.Initial, c.RetryBackoff.Max)
	case c.MaxTruncatedAge < 0:
		return bad("max_truncated_age", "must not be negative, got %v", c.MaxTruncatedAge)
	case c.MaxTruncatedAttempts < 0:
		return bad("max_truncated_attempts", "must not be negative, got %d", c.MaxTruncatedAttempts)
	}
	switch c.AfterExport {
	case AfterExportKeep, AfterExportDelete, AfterExportMove:
	default:
		return bad("after_export", "must be %q, %q or %q, got %q", AfterExportKeep, AfterExportDelete, AfterExportMove, c.AfterExport)
	}
	switch c.OnFailure {
	case OnFailureKeep, OnFailureMove:
	default:
		return bad("on_failure", "must be %q or %q, got %q", OnFailureKeep, OnFailureMove, c.OnFailure)
	}
	return nil
}
