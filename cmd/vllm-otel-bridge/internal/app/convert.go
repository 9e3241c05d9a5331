package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

const convertUsage = `Usage: vllm-otel-bridge convert [flags] TRACE...

Converts PyTorch profiler traces already on disk (.pt.trace.json or .json.gz)
and writes the spans as OTLP/JSON lines (-o FILE) or sends them to an OTLP
endpoint (--endpoint URL, or the OTEL_EXPORTER_OTLP_* variables). With
--requests, engine steps are linked to the vLLM requests they served.

Flags:
`

// convertOptions are the flags of convert beyond the shared output flags.
type convertOptions struct {
	requests       []string
	requestsFormat string
	timeZone       string
	summary        bool
}

func convertCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := DefaultConfig()
	var co convertOptions
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), convertUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Output.Sink.Path, "o", "", "write OTLP/JSON lines to this file (a name ending in .pb: length-delimited OTLP protobuf); - = stdout (same as --output-file)")
	bindOutputFlags(fs, &cfg.Output)
	bindConvertFlags(fs, &cfg.Convert)
	fs.StringVar(&cfg.ServiceName, "service-name", cfg.ServiceName, "service.name of the exported spans")
	fs.Var((*mapValue)(&cfg.ResourceAttributes), "resource-attributes", "extra resource attributes, k=v,k2=v2")
	fs.Var(newList(&co.requests), "requests", "request data: a vLLM text log, JSON log or OTLP/JSON file of llm_request spans; repeatable")
	fs.StringVar(&co.requestsFormat, "requests-format", "auto", "auto, text, json or otlp")
	fs.StringVar(&co.timeZone, "timezone", "Local", "time zone of text-log timestamps (IANA name, UTC or Local)")
	fs.BoolVar(&co.summary, "summary", true, "print a summary of each file")
	fs.StringVar(&cfg.Log.Level, "log-level", "warn", "debug, info, warn or error")
	fs.StringVar(&cfg.Log.Format, "log-format", cfg.Log.Format, "text or json")
	if err := parseWithEnv(fs, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	paths := fs.Args()
	if len(paths) == 0 {
		return fmt.Errorf("%w: convert needs at least one trace file (see convert -h)", errUsage)
	}
	if cfg.Output.Sink.Path == "" && !cfg.Output.HasEndpoint(getenv) {
		return fmt.Errorf("%w: say where spans go: -o FILE (OTLP/JSON lines) or --endpoint URL", errUsage)
	}
	if err := cfg.Output.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	loc, err := loadLocation(co.timeZone)
	if err != nil {
		return fmt.Errorf("%w: --timezone: %v", errUsage, err)
	}
	format, ok := vllmlog.ParseFormat(co.requestsFormat)
	if !ok && co.requestsFormat != "auto" {
		return fmt.Errorf("%w: --requests-format %q is not auto, text, json or otlp", errUsage, co.requestsFormat)
	}
	logger, err := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	report := stdout
	if cfg.Output.Sink.Path == "-" {
		report = stderr
	}

	exp, where, err := startExporter(ctx, cfg.Output, true, stdout, getenv, logger)
	if err != nil {
		return err
	}

	// Request data is read whole before the traces, so every step can be
	// linked at once.
	var lk *linker.Linker
	reqTracker := exp.NewTracker()
	if len(co.requests) > 0 {
		tl := linker.NewTimeline(linker.TimelineOptions{})
		for _, path := range co.requests {
			res, err := loadRequests(path, format, loc, tl)
			if err != nil {
				_ = exp.Shutdown(context.Background())
				return err
			}
			if co.summary {
				fmt.Fprintf(report, "%s: %s, %d request records, %d lines skipped, %d malformed\n", path, res.Format, res.Records, res.Skipped, res.Malformed)
			}
		}
		lk = linker.New(tl, func(b *span.Batch) error { return exp.Export(ctx, b, reqTracker) }, linker.Options{
			Resource: &span.Resource{Attrs: []span.Attr{span.String("service.name", cfg.ServiceName)}},
			Scope:    bridgeScope("linker"),
			EmitFor:  rankZeroOrUnknown,
		})
	}

	files := &filePipeline{convert: cfg.Convert, serviceName: cfg.ServiceName, attrs: cfg.ResourceAttributes, linker: lk, exp: exp}

	// failed counts failures; each was already printed on its own line.
	failed := 0
	for _, path := range paths {
		start := time.Now()
		res, err := files.process(ctx, jobForPath(path))
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "vllm-otel-bridge: %s: %v\n", path, err)
			continue
		}
		if co.summary {
			printSummary(report, path, res.stats, time.Since(start))
		}
	}
	if lk != nil {
		if err := lk.Flush(true); err != nil {
			failed++
			fmt.Fprintf(stderr, "vllm-otel-bridge: request spans: %v\n", err)
		}
		if err := reqTracker.Wait(ctx); err != nil {
			failed++
			fmt.Fprintf(stderr, "vllm-otel-bridge: request spans: %v\n", err)
		}
		if co.summary {
			ls := lk.Stats()
			fmt.Fprintf(report, "requests: %d steps linked (%d with exactly the annotated batch, %d ambiguous, %d with no known request), %d request-step spans, %d llm_request roots written\n",
				ls.Steps, ls.StepsFullyAssigned, ls.Ambiguous, ls.NoRequests, ls.SpansEmitted, ls.RootsEmitted)
		}
	} else {
		reqTracker.Close()
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := exp.Shutdown(shutCtx); err != nil {
		failed++
		fmt.Fprintf(stderr, "vllm-otel-bridge: output: %v\n", err)
	}
	es := exp.Stats()
	if co.summary {
		fmt.Fprintf(report, "exported %d spans in %d requests (%.1f MB) to %s\n", es.SpansExported, es.RequestsExported, float64(es.BytesExported)/1e6, where)
	}
	if failed > 0 {
		return reportedError{failed: failed, total: len(paths)}
	}
	return nil
}

func loadRequests(path string, format vllmlog.Format, loc *time.Location, tl *linker.Timeline) (linker.LoadResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return linker.LoadResult{}, fmt.Errorf("requests: %w", err)
	}
	defer f.Close()
	ref := time.Now()
	if fi, err := f.Stat(); err == nil {
		ref = fi.ModTime()
	}
	lo := linker.LoadOptions{Format: format}
	lo.Text = vllmlog.TextOptions{Location: loc, Reference: ref}
	lo.JSON.Location = loc
	res, err := linker.Load(f, path, lo, tl)
	if err != nil {
		return res, fmt.Errorf("requests: %w", err)
	}
	return res, nil
}

func printSummary(w io.Writer, path string, st converter.Stats, took time.Duration) {
	mbps := float64(st.JSONBytes) / 1e6 / took.Seconds()
	fmt.Fprintf(w, "%s: %d events → %d spans in %d traces (%d steps + profile), %d kernels, era %s, %.1f MB of JSON in %s (%.0f MB/s)\n",
		path, st.Events, st.SpansEmitted, st.Traces, st.Steps, st.ByCategory["kernel"], st.Era, float64(st.JSONBytes)/1e6, took.Round(time.Millisecond), mbps)
	if st.StringsTruncated > 0 {
		fmt.Fprintf(w, "  %d span names or string values longer than 64 KiB were cut\n", st.StringsTruncated)
	}
	if st.SpansDropped > 0 {
		fmt.Fprintf(w, "  %d spans left out by the cap of spans per trace (summarised on their parents)\n", st.SpansDropped)
	}
	if st.OrphanGPU > 0 {
		fmt.Fprintf(w, "  %d GPU activities whose launch is not in the file (placed under their step's root)\n", st.OrphanGPU)
	}
	if st.TimeBase == "unknown" {
		fmt.Fprintf(w, "  warning: the trace has no absolute time base; times are relative\n")
	}
}
