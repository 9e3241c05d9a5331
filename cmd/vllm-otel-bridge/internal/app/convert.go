package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/exporter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/logfiles"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpjson"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/rankjoin"
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
	requestOptions
	summary   bool
	appendOut bool
}

func convertCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg := DefaultConfig()
	var co convertOptions
	fs := newCommandFlags("convert", convertUsage, stderr)
	fs.StringVar(&cfg.Output.Sink.Path, "o", "", "write OTLP/JSON lines to this file (a name ending in .pb: length-delimited OTLP protobuf); - = stdout (same as --output-file)")
	bindOutputFlags(fs, &cfg.Output)
	bindConvertFlags(fs, &cfg.Convert)
	fs.StringVar(&cfg.ServiceName, "service-name", cfg.ServiceName, "service.name of the exported spans")
	fs.Var((*mapValue)(&cfg.ResourceAttributes), "resource-attributes", "extra resource attributes, k=v,k2=v2")
	bindRequestFlags(fs, &co.requestOptions)
	fs.BoolVar(&co.summary, "summary", true, "print a summary of each file")
	fs.BoolVar(&co.appendOut, "append", false, "append to the -o file instead of replacing it (by default -o writes a new file and renames it over the old one once every input converted)")
	fs.StringVar(&cfg.Log.Level, "log-level", "warn", "debug, info, warn or error")
	fs.StringVar(&cfg.Log.Format, "log-format", cfg.Log.Format, "text or json")
	paths, err := parseTraceArgs(fs, args, getenv)
	if err != nil {
		return err
	}
	if cfg.Output.Sink.Path == "" && !cfg.Output.HasEndpoint(getenv) {
		return fmt.Errorf("%w: say where spans go: -o FILE (OTLP/JSON lines) or --endpoint URL", errUsage)
	}
	if err := cfg.Output.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	loc, format, logger, err := checkTraceFlags(co.requestOptions, &cfg.Convert, cfg.Log, stderr)
	if err != nil {
		return err
	}
	report := stdout
	if cfg.Output.Sink.Path == "-" {
		report = stderr
	}

	// -o FILE is replaced atomically: the spans go to a temporary file in
	// the same directory, renamed over FILE once every input converted;
	// a failed convert leaves FILE as it was. --append writes to FILE.
	out := &outputFile{}
	if f := cfg.Output.Sink.Path; f != "" && f != "-" && !co.appendOut {
		tmp, err := newOutputTemp(f)
		if err != nil {
			return err
		}
		out.final, out.tmp = f, tmp
		cfg.Output.Sink.Path = tmp
	}
	defer out.discard()
	exp, where, err := startExporter(ctx, cfg.Output, true, stdout, getenv, logger)
	if err != nil {
		return err
	}
	if out.final != "" {
		where = out.final
	}

	// host.name as run sets it (this machine's name, unless the file name
	// or --resource-attributes host.name=… says otherwise): without it
	// Jaeger's clock-skew adjuster takes every parent/child pair for a
	// cross-host call and warns on each kernel span.
	hostName, _ := os.Hostname()

	// Request data is read whole before the traces, so every step can be
	// linked at once.
	var lk *linker.Linker
	reqTracker := exp.NewTracker()
	if len(co.requests) > 0 {
		tl := linker.NewTimeline(linker.TimelineOptions{})
		// vLLM's own spans are exported once, unchanged, as the daemon's
		// receiver forwards them: the request-step spans hang under these
		// llm_request spans, which would be missing (orphans in Jaeger)
		// otherwise.
		forward := func(path string) (int, error) { return forwardOTLPFile(ctx, path, exp, reqTracker) }
		if err := loadRequestSources(ctx, co.requests, format, loc, tl, report, co.summary, logfiles.Config{TaskPattern: co.taskPattern}, forward); err != nil {
			_ = exp.Shutdown(context.Background())
			return err
		}
		lk = linker.New(tl, func(b *span.Batch) error { return exp.Export(ctx, b, reqTracker) }, linker.Options{
			Resource: linkerResource(cfg.ServiceName, hostName, cfg.ResourceAttributes),
			Scope:    bridgeScope("linker"),
			EmitFor:  rankZeroOrUnknown,
		})
	}

	// The steps' roots are written once every file was converted: one
	// root per step with the figures of every rank given in this call.
	rootTracker := exp.NewTracker()
	roots := rankjoin.New(func(b *span.Batch) error { return exp.Export(ctx, b, rootTracker) }, rankjoin.Options{Scope: bridgeScope("converter")})
	files := &filePipeline{convert: cfg.Convert, serviceName: cfg.ServiceName, attrs: cfg.ResourceAttributes,
		hostName: hostName, linker: lk, exp: exp, steps: roots}

	// failed counts failures; each was already printed on its own line.
	// unbalanced counts files whose spans were all written but whose books
	// do not balance (a converter bug: events lost): convert exits 1.
	failed, unbalanced := 0, 0
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
		if res.books != nil {
			unbalanced++
			logger.Error("events lost in conversion", "file", path, "unaccounted_events", res.stats.Unaccounted(), "err", res.books)
			fmt.Fprintf(stderr, "vllm-otel-bridge: %s: %v\n", path, res.books)
		}
	}
	if err := roots.Flush(); err != nil {
		failed++
		fmt.Fprintf(stderr, "vllm-otel-bridge: step roots: %v\n", err)
	}
	if err := rootTracker.Wait(ctx); err != nil {
		failed++
		fmt.Fprintf(stderr, "vllm-otel-bridge: step roots: %v\n", err)
	}
	if rs := roots.Stats(); co.summary && len(paths) > 1 && rs.Steps > 0 {
		fmt.Fprintf(report, "steps: %d step traces, %d with every rank of their world size\n", rs.Steps, rs.Complete)
	}
	if rs := roots.Stats(); rs.Conflicts > 0 {
		logger.Warn("parts of different profile windows share step traces (their roots say bridge.step.window_conflict)", "steps", rs.Conflicts)
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
	if failed == 0 {
		if err := out.commit(); err != nil {
			failed++
			fmt.Fprintf(stderr, "vllm-otel-bridge: output: %v\n", err)
		}
	} else if out.final != "" && co.summary {
		fmt.Fprintf(report, "%s left as it was (an input failed)\n", out.final)
	}
	es := exp.Stats()
	if co.summary {
		fmt.Fprintf(report, "exported %d spans in %d requests (%.1f MB) to %s\n", es.SpansExported, es.RequestsExported, float64(es.BytesExported)/1e6, where)
	}
	if failed+unbalanced > 0 {
		return reportedError{failed: failed + unbalanced, total: len(paths)}
	}
	return nil
}

// newCommandFlags is the flag set of the command name (convert, inspect):
// -h and a bad flag print usage and then the flags to stderr.
func newCommandFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseTraceArgs parses the flags of a command that takes TRACE... (and
// the environment variables of the flags not given) and returns the trace
// files: flag.ErrHelp for -h; an errUsage error for a bad flag or no file.
func parseTraceArgs(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	if err := parseWithEnv(fs, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() == 0 {
		return nil, fmt.Errorf("%w: %s needs at least one trace file (see %[2]s -h)", errUsage, fs.Name())
	}
	return fs.Args(), nil
}

// checkTraceFlags is the last of convert's and inspect's flag checks: the
// convert section (the threshold flags), the request flags (requestFlags),
// and the logger the log flags ask for, which it makes.
func checkTraceFlags(o requestOptions, cc *ConvertConfig, lc LogConfig, stderr io.Writer) (*time.Location, vllmlog.Format, *slog.Logger, error) {
	if err := cc.Validate(); err != nil {
		return nil, 0, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	loc, format, err := requestFlags(o.timeZone, o.requestsFormat)
	if err != nil {
		return nil, 0, nil, err
	}
	logger, err := newLogger(stderr, lc.Level, lc.Format)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return loc, format, logger, nil
}

// outputFile is convert's -o target while it is written to tmp (both
// empty with --append, stdout or an endpoint).
type outputFile struct{ final, tmp string }

// newOutputTemp creates the temporary file for final in final's directory
// (so the rename stays on one file system), named to end like final
// (a .pb name still selects protobuf), with final's mode or 0644.
func newOutputTemp(final string) (string, error) {
	dir, base := filepath.Split(final)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, ".tmp-*-"+base)
	if err != nil {
		return "", fmt.Errorf("output: %w", err)
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(final); err == nil {
		mode = fi.Mode().Perm()
	}
	err = f.Chmod(mode)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("output: %w", err)
	}
	return f.Name(), nil
}

// commit renames the temporary file over the target.
func (o *outputFile) commit() error {
	if o.tmp == "" {
		return nil
	}
	if err := os.Rename(o.tmp, o.final); err != nil {
		return fmt.Errorf("replacing %s: %w", o.final, err)
	}
	o.tmp = ""
	return nil
}

// discard removes the temporary file unless it was committed.
func (o *outputFile) discard() {
	if o.tmp != "" {
		_ = os.Remove(o.tmp)
		o.tmp = ""
	}
}

// forwardOTLPFile exports every span of the OTLP/JSON file at path
// unchanged (ids, names, times, attributes, resource), as the daemon's
// receiver forwards what vLLM sends, and returns how many it exported.
func forwardOTLPFile(ctx context.Context, path string, exp *exporter.Exporter, t *exporter.Tracker) (int, error) {
	f, _, err := openRequests(path)
	if err != nil {
		return 0, fmt.Errorf("requests: %w", err)
	}
	defer f.Close()
	n := 0
	err = otlpjson.UnmarshalOptions{Base64IDs: true}.ReadStream(f, func(req *coltracepb.ExportTraceServiceRequest) error {
		rs := req.GetResourceSpans()
		for _, r := range rs {
			for _, ss := range r.GetScopeSpans() {
				n += len(ss.GetSpans())
			}
		}
		return exp.ExportRaw(ctx, rs, t)
	})
	if err != nil {
		return n, fmt.Errorf("requests: forwarding the spans of %s: %w", path, err)
	}
	return n, nil
}

func loadRequests(path string, format vllmlog.Format, loc *time.Location, tl *linker.Timeline) (linker.LoadResult, error) {
	f, fi, err := openRequests(path)
	if err != nil {
		return linker.LoadResult{}, fmt.Errorf("requests: %w", err)
	}
	defer f.Close()
	ref := fi.ModTime()
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
	fmt.Fprintf(w, "  %s\n", st.BooksLine())
}
