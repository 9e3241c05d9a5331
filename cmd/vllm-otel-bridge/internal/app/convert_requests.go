package app

import (
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/logfiles"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
)

// requestOptions are the request flags convert and inspect share.
type requestOptions struct {
	requests       []string
	requestsFormat string
	taskPattern    string
	timeZone       string
}

// bindRequestFlags binds --requests, --task-pattern, --requests-format
// and --timezone.
func bindRequestFlags(fs *flag.FlagSet, o *requestOptions) {
	fs.Var(newList(&o.requests), "requests", "request data: a vLLM text log, JSON log or OTLP/JSON file of llm_request spans, plain or in a CRI or Docker json-file wrapper, .gz or not; a file, glob or folder; repeatable")
	fs.StringVar(&o.taskPattern, "task-pattern", "", "regexp over a request log's path with a (?P<task>…) group (vllm.request.task); empty = a folder's files by name, none = off")
	fs.StringVar(&o.requestsFormat, "requests-format", "auto", "auto, text, json or otlp")
	fs.StringVar(&o.timeZone, "timezone", "Local", "time zone of text-log timestamps (IANA name, UTC or Local)")
}

// requestFlags checks the --timezone and --requests-format flags of
// convert, inspect and diff: the zone of the text log's times, and the
// request file format (FormatUnknown for auto).
func requestFlags(timeZone, requestsFormat string) (*time.Location, vllmlog.Format, error) {
	loc, err := loadLocation(timeZone)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: --timezone: %v", errUsage, err)
	}
	format, ok := vllmlog.ParseFormat(requestsFormat)
	if !ok && requestsFormat != "auto" {
		return nil, 0, fmt.Errorf("%w: --requests-format %q is not auto, text, json or otlp", errUsage, requestsFormat)
	}
	return loc, format, nil
}

// loadRequestSources reads convert's --requests: files, globs and folders;
// OTLP/JSON files of llm_request spans whole, vLLM logs (plain, CRI or
// Docker json-file, .gz or not) through package logfiles, each content
// once. A pattern that names no file is an error. forward, when set, is
// given each OTLP/JSON file after it was read, and says how many spans it
// sent on unchanged.
func loadRequestSources(ctx context.Context, patterns []string, format vllmlog.Format, loc *time.Location, tl *linker.Timeline, report io.Writer, summary bool, lc logfiles.Config, forward func(path string) (int, error)) error {
	var logs []string
	for _, pat := range patterns {
		paths := logfiles.Match([]string{pat})
		if len(paths) == 0 {
			return fmt.Errorf("requests: %s: no such file", pat)
		}
		for _, path := range paths {
			otlp := format == vllmlog.FormatOTLPJSON
			if format == vllmlog.FormatUnknown {
				head, err := logfiles.Head(path)
				if err != nil {
					return fmt.Errorf("requests: %s: %w", path, err)
				}
				otlp = vllmlog.DetectFormat(head) == vllmlog.FormatOTLPJSON
			}
			if !otlp {
				logs = append(logs, path)
				continue
			}
			res, err := loadRequests(path, vllmlog.FormatOTLPJSON, loc, tl)
			if err != nil {
				return err
			}
			forwarded := 0
			if forward != nil {
				if forwarded, err = forward(path); err != nil {
					return err
				}
			}
			if summary {
				fmt.Fprintf(report, "%s: %s, %d request records, %d lines skipped, %d malformed", path, res.Format, res.Records, res.Skipped, res.Malformed)
				if forward != nil {
					fmt.Fprintf(report, ", %d spans forwarded unchanged", forwarded)
				}
				fmt.Fprintln(report)
			}
		}
	}
	if len(logs) == 0 {
		return nil
	}
	lc.Patterns = logs
	lc.Format = format
	lc.Text = vllmlog.TextOptions{Location: loc}
	lc.JSON = vllmlog.JSONOptions{Location: loc}
	set, err := logfiles.New(lc, tl, nil)
	if err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	if err := set.ReadOnce(ctx); err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	files := set.Files()
	records := int64(0)
	for _, f := range files {
		records += f.Records
	}
	for _, f := range files {
		if records == 0 && f.Warning != "" {
			// Not one request record in any log, and this one is not a
			// vLLM log: most likely the wrong file.
			return fmt.Errorf("requests: %s: %w (%s)", f.Path, linker.ErrUnknownFormat, f.Warning)
		}
		if !summary {
			continue
		}
		kind := f.Format
		if f.Container != "plain" {
			kind = f.Container + "/" + f.Format
		}
		fmt.Fprintf(report, "%s: %s, %d request records, %d lines skipped, %d malformed", f.Path, kind, f.Records, f.NotRequest, f.Malformed)
		if f.Task != "" {
			fmt.Fprintf(report, ", task %s", f.Task)
		}
		if f.Warning != "" {
			fmt.Fprintf(report, " (%s)", f.Warning)
		}
		fmt.Fprintln(report)
	}
	return nil
}

// openRequests opens a request file, inflating a .gz.
func openRequests(path string) (io.ReadCloser, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, fi, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, fi, nil
}
