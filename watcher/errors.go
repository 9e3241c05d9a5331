package watcher

import (
	"errors"
	"fmt"
	"io"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher/finder"
)

var (
	// ErrClosed is returned by Next once Run has returned and no file is
	// waiting.
	ErrClosed = errors.New("watcher: stopped")
	// ErrNotInFlight is returned by Done, Retry and Failed for a file that
	// Next did not hand out, or that was already settled.
	ErrNotInFlight = errors.New("watcher: file is not in flight")
	// ErrTruncated means a file ends early: a gzip stream without its end
	// (or, passed to Retry, whatever the converter found cut). It is
	// transient while the file may still grow (see Config.MaxTruncatedAge).
	ErrTruncated = errors.New("trace file is truncated")
	// ErrCorrupt means a .gz is not a valid gzip stream (bad header,
	// corrupt deflate data, checksum mismatch). It is permanent.
	ErrCorrupt = errors.New("trace file is not a valid gzip stream")
	// ErrTooLarge means a file exceeds Config.MaxFileSize. It is permanent.
	ErrTooLarge = errors.New("trace file exceeds max_file_size")
	// ErrOutsideDir means a symlink resolves outside its watched directory
	// and FollowSymlinks is off.
	ErrOutsideDir = finder.ErrOutsideDir
	// ErrState is wrapped when the state file cannot be written; Done then
	// leaves the file in flight.
	ErrState = errors.New("watcher: state file not saved")
	// ErrAlreadyRunning is returned by a second call of Run.
	ErrAlreadyRunning = errors.New("watcher: Run already called")
)

// FileError says which file an operation failed on.
type FileError struct {
	Op   string // "fingerprint", "verify", "move", "delete", ...
	Path string
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("watcher: %s %s: %v", e.Op, e.Path, e.Err) }

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// IsTruncated reports whether err says a file was cut short: it matches
// ErrTruncated or io.ErrUnexpectedEOF, or has a Truncated() bool method
// returning true (so the converter can mark its own error without importing
// this package).
func IsTruncated(err error) bool {
	if errors.Is(err, ErrTruncated) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var t interface{ Truncated() bool }
	return errors.As(err, &t) && t.Truncated()
}
