package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/insights"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/logfiles"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/report"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

const inspectUsage = `Usage: vllm-otel-bridge inspect [flags] TRACE...

Reads PyTorch profiler traces (.pt.trace.json or .json.gz) the way convert
does, exports nothing, and prints what a performance engineer looks for: a
table of the engine steps (batch, wall time, GPU busy and host-wait share,
dominant kernel class, bottleneck), the top kernels per step kind, a
checklist (long kernels, GPU idle, CPU idle, memory copies, memory
allocation, top kernels) with its evidence, and, with --requests, a table
of the requests. --json prints the same data as JSON instead; --html FILE
also writes it as one self-contained HTML page.

Flags:
`

// inspectOptions are the flags of inspect.
type inspectOptions struct {
	requestOptions
	json       bool
	html       string
	topKernels int
}

func inspectCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := DefaultConfig()
	// No cap on spans per trace: the cap exists for backends, and a span
	// it left out would be missing from the kernel tables.
	cfg.Convert.MaxSpansPerTrace = 0
	var opt inspectOptions
	fs := newCommandFlags("inspect", inspectUsage, stderr)
	bindRequestFlags(fs, &opt.requestOptions)
	fs.BoolVar(&opt.json, "json", false, "print the report as JSON instead of text")
	fs.StringVar(&opt.html, "html", "", "also write the report as one self-contained HTML file")
	fs.IntVar(&opt.topKernels, "top-kernels", report.DefaultOptions().TopKernels, "rows per step kind in the kernel tables")
	fs.StringVar(&cfg.Convert.SpillDir, "spill-dir", cfg.Convert.SpillDir, "directory for the converter's scratch file; empty = $TMPDIR or /tmp, off = in memory")
	fs.StringVar(&cfg.Log.Level, "log-level", "warn", "debug, info, warn or error")
	bindThresholdFlags(fs, &cfg.Convert.Thresholds)
	paths, err := parseTraceArgs(fs, args, getenv)
	if err != nil {
		return err
	}
	if opt.topKernels <= 0 {
		return fmt.Errorf("%w: --top-kernels must be positive", errUsage)
	}
	loc, format, logger, err := checkTraceFlags(opt.requestOptions, &cfg.Convert, cfg.Log, stderr)
	if err != nil {
		return err
	}

	ropts := report.DefaultOptions()
	ropts.TopKernels = opt.topKernels
	// Kernels are classified with the converter's own table, so the
	// kernel tables' classes agree with the roots' vllm.step.gpu_time.*.
	ropts.Classify = func(name, category string) string { return insights.Classify(name, category).String() }
	b := report.NewBuilder(ropts)

	var lk *linker.Linker
	if len(opt.requests) > 0 {
		// The same reading as convert's --requests (globs, folders, .gz,
		// container log wrappers); its per-file lines go to stderr at
		// --log-level info, not into the report.
		tl := linker.NewTimeline(linker.TimelineOptions{})
		verbose := logger.Enabled(ctx, slog.LevelInfo)
		if err := loadRequestSources(ctx, opt.requests, format, loc, tl, stderr, verbose, logfiles.Config{TaskPattern: opt.taskPattern}, nil); err != nil {
			return err
		}
		lk = linker.New(tl, b.Add, linker.Options{
			Resource: &span.Resource{Attrs: []span.Attr{span.String("service.name", cfg.ServiceName)}},
			Scope:    bridgeScope("linker"),
			EmitFor:  rankZeroOrUnknown,
		})
	}
	files := &filePipeline{convert: cfg.Convert, serviceName: cfg.ServiceName, attrs: cfg.ResourceAttributes, linker: lk}
	failed := 0
	for _, path := range paths {
		b.BeginFile(filepath.Base(path))
		st, err := inspectFile(ctx, files, jobForPath(path), b.Add)
		if err != nil {
			failed++
			b.FileFailed(err)
			fmt.Fprintf(stderr, "vllm-otel-bridge: %s: %v\n", path, err)
			continue
		}
		if berr := st.CheckBooks(); berr != nil {
			failed++
			b.FileFailed(berr)
			fmt.Fprintf(stderr, "vllm-otel-bridge: %s: %v\n", path, berr)
		}
	}
	if lk != nil {
		if err := lk.Flush(true); err != nil {
			failed++
			fmt.Fprintf(stderr, "vllm-otel-bridge: request spans: %v\n", err)
		}
	}
	rep := b.Report()
	if opt.html != "" {
		if err := writeFileAtomic(opt.html, func(w io.Writer) error { return report.RenderHTML(w, rep.Document()) }); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	if opt.json {
		err = report.WriteJSON(stdout, rep)
	} else {
		err = report.RenderText(stdout, rep.Document())
	}
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if failed > 0 {
		return reportedError{failed: failed, total: len(paths)}
	}
	return nil
}

// inspectFile converts one trace file as convert does (the same options,
// resource and scratch file) and hands its batches to add.
func inspectFile(ctx context.Context, p *filePipeline, job fileJob, add func(*span.Batch) error) (converter.Stats, error) {
	f, err := os.Open(job.path)
	if err != nil {
		return converter.Stats{}, err
	}
	defer f.Close()
	opts, closeSpill, err := p.convertOptions(job)
	if err != nil {
		return converter.Stats{}, err
	}
	defer closeSpill()
	return converter.Convert(ctx, f, opts, add)
}

// writeFileAtomic writes path through a temporary file in its directory,
// renamed over path once write succeeded.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, ".tmp-*-"+base)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = write(f)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return nil
}
