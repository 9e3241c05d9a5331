package logfiles

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
)

// Config says which files to read and how.
type Config struct {
	// Patterns are files, globs (filepath.Match syntax in every path
	// element: /var/log/pods/*vllm*/vllm/*.log; as in a shell, a wildcard
	// does not match a name starting with ".") or folders (every regular
	// file below them, recursively; hidden files and folders, and
	// symlinked folders, are left out).
	Patterns []string
	// Rotated adds, for every file a pattern names, its rotated siblings
	// in the same folder: <name>.1, <name>.2.gz, <name>-20261207,
	// <name>.20261207-032251[.gz] (logrotate, the kubelet). Run sets it;
	// convert reads exactly what it is given.
	Rotated bool
	// TaskPattern is a regular expression over a file's path with a named
	// group "task"; where it matches, every request record of that file
	// carries the group's text as its task (vllm.request.task). Empty:
	// files found in a folder pattern get their name's stem
	// ("bench-7.log.1.gz" → "bench-7"), container logs and files named by
	// a file or glob pattern get none. "none" turns tasks off.
	TaskPattern string
	// Format forces the vLLM format inside each line; FormatUnknown
	// detects it per file.
	Format vllmlog.Format
	// Text and JSON configure vllmlog's parsers (time zone, year).
	Text vllmlog.TextOptions
	JSON vllmlog.JSONOptions
	// FromEnd starts files present at the first scan at their end (new
	// files, and files rotated in later, are always read from their start).
	FromEnd bool
	// MaxFollowed bounds the files held open at once; more files wait in
	// a queue (Stats.Queued). Default 64.
	MaxFollowed int
	// IdleClose closes a file that has not grown for this long; it is
	// opened again when it grows. Default 30s.
	IdleClose time.Duration
	// PollInterval is how often open files are read. Default 250ms.
	PollInterval time.Duration
	// RescanInterval is how often the patterns are listed again (the
	// safety net under fsnotify). Default 5s.
	RescanInterval time.Duration
	// MaxLineBytes caps one line; longer lines are skipped. Default 1 MiB.
	MaxLineBytes int
}

// Defaults.
const (
	DefaultMaxFollowed    = 64
	DefaultIdleClose      = 30 * time.Second
	DefaultPollInterval   = 250 * time.Millisecond
	DefaultRescanInterval = 5 * time.Second
	DefaultMaxLineBytes   = 1 << 20
)

func (c *Config) defaults() {
	if c.MaxFollowed <= 0 {
		c.MaxFollowed = DefaultMaxFollowed
	}
	if c.IdleClose <= 0 {
		c.IdleClose = DefaultIdleClose
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.RescanInterval <= 0 {
		c.RescanInterval = DefaultRescanInterval
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("logfiles: bad configuration")

// CompileTaskPattern checks a TaskPattern: it returns nil for "" and
// "none", and an error wrapping ErrConfig for an invalid expression or
// one without a group named "task".
func CompileTaskPattern(s string) (*regexp.Regexp, error) {
	if s == "" || s == "none" {
		return nil, nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("%w: task pattern: %v", ErrConfig, err)
	}
	if re.SubexpIndex("task") < 0 {
		return nil, fmt.Errorf("%w: task pattern %q has no group named task: (?P<task>…)", ErrConfig, s)
	}
	return re, nil
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if _, err := CompileTaskPattern(c.TaskPattern); err != nil {
		return err
	}
	for _, p := range c.Patterns {
		if p == "" {
			return fmt.Errorf("%w: empty pattern", ErrConfig)
		}
		if _, err := filepathMatchCheck(p); err != nil {
			return fmt.Errorf("%w: pattern %q: %v", ErrConfig, p, err)
		}
	}
	return nil
}
