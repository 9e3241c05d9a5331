package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/capture"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/exporter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/version"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/logfiles"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/rankjoin"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/receiver"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher"
)

const runUsage = `Usage: vllm-otel-bridge run [flags]

Watches vLLM's profiler directory and exports every complete trace file, linked
to the requests in vLLM's logs or its own llm_request spans, over OTLP.

  vllm-otel-bridge run --profiler-dir /profiles --endpoint http://tempo:4317 --insecure

Flags (each also VLLM_OTEL_BRIDGE_<FLAG> in the environment, and a key of the
--config YAML file, named in brackets):
`

// loadRunConfig builds the run configuration: defaults, then the file named
// by --config (or VLLM_OTEL_BRIDGE_CONFIG), then the environment, then flags.
func loadRunConfig(args []string, stderr io.Writer, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	path := getenv(EnvName("config"))
	for i, a := range args {
		switch {
		case a == "--config" || a == "-config":
			if i+1 < len(args) {
				path = args[i+1]
			}
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			path = a[strings.IndexByte(a, '=')+1:]
		}
	}
	if path != "" {
		if err := LoadFile(&cfg, path, getenv); err != nil {
			return cfg, err
		}
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), runUsage)
		fs.PrintDefaults()
	}
	var ignored string
	fs.StringVar(&ignored, "config", path, "YAML configuration file (see examples/bridge.yaml)")
	bindRunFlags(fs, &cfg)
	if err := parseWithEnv(fs, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: run takes no arguments, got %q", errUsage, fs.Args())
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%w: %v", errUsage, err)
	}
	return cfg, nil
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := loadRunConfig(args, stderr, getenv)
	if err != nil {
		return err
	}
	logger, err := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	d, err := newDaemon(ctx, cfg, stdout, getenv, logger)
	if err != nil {
		return err
	}
	return d.run(ctx)
}

// daemon is the running sidecar: watcher → converter (+ linker) → exporter,
// with log followers and the OTLP receiver feeding the request timeline.
type daemon struct {
	cfg    Config
	getenv func(string) string
	logger *slog.Logger

	tel      *telemetry
	exp      *exporter.Exporter
	where    string
	w        *watcher.Watcher
	tl       *linker.Timeline
	lk       *linker.Linker
	logs     *logfiles.Set // nil without requests.logs
	files    *filePipeline
	rcv      *receiver.Receiver
	hostName string
	loc      *time.Location

	conv *conversionMetrics
	// om is the step and request metrics (OTel SDK); nil when
	// OTEL_METRICS_EXPORTER is none.
	om *otelMetrics
	// ctrl takes profiler captures (profiling.vllm_url set); nil when off.
	ctrl *capture.Controller
}

func newDaemon(ctx context.Context, cfg Config, stdout io.Writer, getenv func(string) string, logger *slog.Logger) (*daemon, error) {
	v := version.Get()
	logger.Info("starting vllm-otel-bridge", "version", v.Version, "commit", v.Commit, "go", v.GoVersion,
		"os", runtime.GOOS, "arch", runtime.GOARCH, "profiler_dirs", cfg.Profiler.Dirs, "state_file", cfg.StateFile)
	d := &daemon{cfg: cfg, getenv: getenv, logger: logger, tel: newTelemetry(logger), conv: newConversionMetrics()}
	d.hostName, _ = os.Hostname()
	d.loc, _ = loadLocation(cfg.Requests.TimeZone)

	exp, where, err := startExporter(ctx, cfg.Output, false, stdout, getenv, logger)
	if err != nil {
		return nil, err
	}
	d.exp, d.where = exp, where

	wcfg := cfg.Profiler
	wcfg.StatePath = cfg.StateFile
	w, err := watcher.New(wcfg, logger.With("component", "watcher"))
	if err != nil {
		_ = exp.Shutdown(context.Background())
		return nil, err
	}
	d.w = w

	d.tl = linker.NewTimeline(cfg.Requests.TimelineOptions)
	if len(cfg.Requests.Logs) > 0 {
		if d.logs, err = logfiles.New(d.logFilesConfig(), d.tl, logger.With("component", "logs")); err != nil {
			_ = exp.Shutdown(context.Background())
			return nil, fmt.Errorf("requests.logs: %w", err)
		}
	}
	d.lk = linker.New(d.tl, d.emitRequestSpans, linker.Options{
		Resource:              linkerResource(cfg.ServiceName, d.hostName, cfg.ResourceAttributes),
		Scope:                 bridgeScope("linker"),
		ExpectLLMRequestSpans: cfg.Receiver.Enabled(),
		EmitFor:               rankZeroOrUnknown,
	})
	// Each file writes its steps' roots with its own spans, from every
	// rank converted so far (no file waits for, or depends on, another).
	d.files = &filePipeline{convert: cfg.Convert, serviceName: cfg.ServiceName, attrs: cfg.ResourceAttributes,
		hostName: d.hostName, linker: d.lk, exp: d.exp,
		steps: rankjoin.New(nil, rankjoin.Options{Mode: rankjoin.WriteThrough, MaxSteps: 2000, Scope: bridgeScope("converter")})}

	if cfg.Profiling.Enabled() {
		budget := int64(cfg.Profiler.DiskBudgetBytes)
		// A capture needs room on disk: with a budget, a start is refused
		// while less than a quarter of it is free.
		ctrl, err := capture.New(cfg.Profiling, capture.Options{
			Logger:          logger.With("component", "capture"),
			Getenv:          getenv,
			ProfilerDirs:    cfg.Profiler.Dirs,
			ShutdownTimeout: cfg.ShutdownTimeout,
			Precondition:    capture.BudgetPrecondition(budget, budget/4, func() int64 { return w.Stats().BytesOnDisk }),
		})
		if err != nil {
			_ = exp.Shutdown(context.Background())
			return nil, err
		}
		d.ctrl = ctrl
		d.files.fileAttrs = ctrl.ResourceSpanAttrs
		d.files.traceIDs = true
		h := capture.NewHandler(ctrl, cfg.Profiling.ControlTokenFile, logger.With("component", "capture"))
		d.tel.handle(capture.ControlPath, h)
		d.tel.handle(capture.ControlPath+"/", h)
	}

	rc := cfg.Receiver
	if rc.Enabled() {
		r, err := receiver.New(rc, receiver.ConsumerFunc(d.consume), logger.With("component", "receiver"))
		if err != nil {
			_ = exp.Shutdown(context.Background())
			return nil, fmt.Errorf("receiver: %w", err)
		}
		d.rcv = r
	}
	om, err := newOTelMetrics(ctx, cfg, d.hostName, d.tel.reg, getenv, logger)
	if err != nil {
		_ = exp.Shutdown(context.Background())
		return nil, fmt.Errorf("metrics: %w", err)
	}
	d.om, d.files.metrics = om, om.recorder()
	if om != nil {
		logger.Info("step metrics", "prometheus", om.prom, "otlp", om.otlp)
	}
	d.registerMetrics()
	return d, nil
}

// consume forwards vLLM's spans unchanged and feeds its llm_request spans to
// the request timeline. The sender is acknowledged once the exporter took
// the spans over (it retries and never drops silently).
func (d *daemon) consume(ctx context.Context, rs []*tracepb.ResourceSpans) error {
	for _, s := range vllmlog.LLMRequests(rs) {
		if err := d.tl.AddLLMRequestSpan(s.TraceID, s.SpanID, s.ParentSpanID, s.Start, s.End, s.Attrs); err != nil {
			d.logger.Debug("llm_request span not usable for linking", "err", err)
		}
	}
	t := d.exp.NewTracker()
	err := d.exp.ExportRaw(ctx, rs, t)
	t.Close()
	return err
}

// emitRequestSpans hands the linker's request-side spans to the exporter.
// They are not tied to a trace file, so nobody waits for their
// acknowledgement; the exporter retries, counts and logs failures.
func (d *daemon) emitRequestSpans(b *span.Batch) error {
	d.om.recorder().RecordRequests(context.Background(), b)
	t := d.exp.NewTracker()
	defer t.Close()
	return d.exp.Export(context.Background(), b, t)
}

func (d *daemon) run(ctx context.Context) error {
	// Last of all: the final OTLP metrics push counts the last file.
	defer func() {
		if e := d.om.shutdown(d.cfg.ShutdownTimeout); e != nil {
			d.logger.Warn("metrics shutdown", "err", e)
		}
	}()
	if err := d.tel.start(d.cfg.Telemetry.Addr); err != nil {
		_ = d.exp.Shutdown(context.Background())
		return fmt.Errorf("telemetry.addr: %w", err)
	}
	defer d.tel.shutdown(context.Background())

	var wg sync.WaitGroup
	bg, cancelBG := context.WithCancel(ctx)
	defer cancelBG()
	if d.rcv != nil {
		if err := d.rcv.Start(bg); err != nil {
			_ = d.exp.Shutdown(context.Background())
			return fmt.Errorf("receiver: %w", err)
		}
	}
	if d.logs != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.followLogs(bg)
		}()
	}
	watchErr := make(chan error, 1)
	go func() { watchErr <- d.w.Run(bg) }()
	// The capture controller gets the outer context: on SIGTERM it stops
	// a capture in flight (bounded by shutdown_timeout) before it returns,
	// and the daemon waits for that.
	ctrlDone := make(chan error, 1)
	if d.ctrl != nil {
		go func() { ctrlDone <- d.ctrl.Run(ctx) }()
	} else {
		ctrlDone <- nil
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.flushLoop(bg)
	}()
	d.tel.setReady(true, "")
	d.logger.Info("watching for trace files", "dirs", d.cfg.Profiler.Dirs, "output", d.where)

	err := d.processLoop(ctx, watchErr)

	d.tel.setReady(false, "shutting down")
	d.logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer cancel()
	if d.rcv != nil {
		if e := d.rcv.Shutdown(shutCtx); e != nil {
			d.logger.Warn("receiver shutdown", "err", e)
		}
	}
	if e := <-ctrlDone; e != nil {
		d.logger.Warn("profiling control", "err", e)
	}
	cancelBG()
	wg.Wait()
	if e := d.lk.Flush(true); e != nil {
		d.logger.Warn("request spans not all written", "err", e)
	}
	if e := d.exp.Shutdown(shutCtx); e != nil {
		d.logger.Warn("exporter shutdown", "err", e)
	}
	es := d.exp.Stats()
	d.logger.Info("stopped", "spans_exported", es.SpansExported, "files_exported", d.w.Stats().Exported)
	return err
}

// processLoop hands each complete file to the converter, one at a time (a
// conversion already uses both cores: inflate and parse run in parallel).
func (d *daemon) processLoop(ctx context.Context, watchErr <-chan error) error {
	for {
		f, err := d.w.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			select {
			case werr := <-watchErr:
				if werr != nil && ctx.Err() == nil {
					return fmt.Errorf("watcher: %w", werr)
				}
				return nil
			default:
			}
			return fmt.Errorf("watcher: %w", err)
		}
		// The file in flight may finish within ShutdownTimeout after the
		// signal; past that its work is cancelled and it stays unrecorded,
		// to be sent again (same ids) after a restart.
		workCtx, cancel := context.WithCancel(context.Background())
		stop := context.AfterFunc(ctx, func() { time.AfterFunc(d.cfg.ShutdownTimeout, cancel) })
		d.processFile(workCtx, ctx, f)
		stop()
		cancel()
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (d *daemon) processFile(ctx, outer context.Context, f watcher.File) {
	log := d.logger.With("file", f.Path, "attempt", f.Attempt)
	d.holdForRequests(outer, f)
	start := time.Now()
	res, err := d.files.process(ctx, jobForFile(f))
	if err != nil {
		d.settle(log, f, err, res.stage)
		return
	}
	st, convTook := res.stats, res.converted
	if d.ctrl != nil {
		if id, ok := d.ctrl.AttachTraceIDs(f.Path, res.traceIDs); ok {
			log.Info("trace file of a profiling capture", "capture_id", id, "traces", len(res.traceIDs))
		}
	}
	if res.books != nil {
		log.Error("events lost in conversion", "unaccounted_events", st.Unaccounted(), "err", res.books)
	}
	if err := d.lk.Flush(false); err != nil {
		log.Warn("request spans", "err", err)
	}
	if err := d.markDone(outer, f); err != nil {
		// The spans are delivered but not recorded. The file goes back to
		// the queue: it is sent again later with the same ids (an
		// overwrite, not a duplicate) and recorded once the state file
		// can be written.
		log.Error("exported but could not record it in the state file; will send it again and retry", "err", err)
		if e := d.w.Retry(f, err); e != nil {
			log.Error("could not schedule a retry", "err", e)
		}
		return
	}
	lag := time.Since(f.ModTime)
	d.conv.observe(st, convTook, lag)
	log.Info("exported trace file", "spans", st.SpansEmitted, "traces", st.Traces, "steps", st.Steps,
		"spans_dropped_by_cap", st.SpansDropped, "strings_truncated", st.StringsTruncated, "era", st.Era, "json_mb", float64(st.JSONBytes)/1e6,
		"convert_s", convTook.Seconds(), "acked_s", time.Since(start).Seconds(), "lag_s", lag.Seconds())
}

// markDone records f as exported, retrying a failed state save briefly
// (a full disk or a directory being fixed) before giving up.
func (d *daemon) markDone(ctx context.Context, f watcher.File) error {
	var err error
	for i, wait := range []time.Duration{0, 200 * time.Millisecond, time.Second, 3 * time.Second} {
		if i > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(wait):
			}
		}
		if err = d.w.Done(f); err == nil {
			return nil
		}
	}
	return err
}

// settle decides what a failed file becomes: retried later (truncated,
// backend down, shutting down) or failed for good (malformed, not Kineto).
func (d *daemon) settle(log *slog.Logger, f watcher.File, err error, stage string) {
	switch {
	case errors.Is(err, converter.ErrMalformed), errors.Is(err, converter.ErrNotKineto), errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
		log.Error("trace file failed", "stage", stage, "err", err)
		if e := d.w.Failed(f, err); e != nil {
			log.Error("could not record the failure", "err", e)
		}
	default:
		if errors.Is(err, converter.ErrTruncated) {
			// The watcher counts truncated reads and fails a file that
			// stays cut for max_truncated_attempts and max_truncated_age.
			err = fmt.Errorf("%w: %w", watcher.ErrTruncated, err)
			log.Info("trace file is not complete yet; will retry", "err", err)
		} else {
			log.Warn("trace file will be retried", "stage", stage, "err", err)
		}
		if e := d.w.Retry(f, err); e != nil {
			log.Error("could not schedule a retry", "err", e)
		}
	}
}

// holdForRequests waits, at most HoldTimeout, until the followed logs have
// been read past the trace file's completion, so the requests its steps
// served are known when the steps are linked.
func (d *daemon) holdForRequests(ctx context.Context, f watcher.File) {
	if len(d.cfg.Requests.Logs) == 0 || d.cfg.Requests.HoldTimeout <= 0 {
		return
	}
	need := f.ModTime.UnixNano()
	deadline := time.Now().Add(d.cfg.Requests.HoldTimeout)
	for {
		wm := max(d.tl.Watermark(linker.SourceTextLog), d.tl.Watermark(linker.SourceJSONLog))
		if wm >= need || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// logFilesConfig is requests: as package logfiles takes it.
func (d *daemon) logFilesConfig() logfiles.Config {
	rc := d.cfg.Requests
	lc := logfiles.Config{Patterns: rc.Logs, Rotated: true, TaskPattern: rc.TaskPattern,
		FromEnd: rc.StartAt == "end", MaxFollowed: rc.MaxFollowed, IdleClose: rc.IdleClose}
	if rc.Format != "auto" {
		lc.Format, _ = vllmlog.ParseFormat(rc.Format)
	}
	lc.Text = vllmlog.TextOptions{Location: d.loc}
	lc.JSON = vllmlog.JSONOptions{Location: d.loc}
	return lc
}

// followLogs follows requests.logs until ctx ends.
func (d *daemon) followLogs(ctx context.Context) {
	d.logger.Info("following vLLM logs", "logs", d.cfg.Requests.Logs)
	if err := d.logs.Run(ctx); err != nil && ctx.Err() == nil {
		d.logger.Error("stopped following the vLLM logs", "err", err)
	}
}

// flushLoop writes the request-side spans of requests that finished.
func (d *daemon) flushLoop(ctx context.Context) {
	tk := time.NewTicker(5 * time.Second)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			if err := d.lk.Flush(false); err != nil {
				d.logger.Warn("request spans", "err", err)
			}
			d.tl.Prune()
		}
	}
}

// registerMetrics registers each component's collector.
func (d *daemon) registerMetrics() {
	d.tel.reg.MustRegister(watcherMetrics(d.w), exporterMetrics(d.exp), d.conv, linkerMetrics(d.lk, d.tl))
	if d.rcv != nil {
		d.tel.reg.MustRegister(receiverMetrics(d.rcv))
	}
	if d.ctrl != nil {
		d.tel.reg.MustRegister(d.ctrl)
	}
	if d.logs != nil {
		d.tel.reg.MustRegister(logFilesMetrics(d.logs))
	}
}
