package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/exporter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/stepmetrics"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/version"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/rankjoin"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/tracefile"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher"
)

// scopeName is the instrumentation scope of every span the bridge makes.
const scopeName = "vllm-otel-bridge"

// startExporter builds and starts the exporter the output settings ask for.
// An output file "-" writes to stdout.
//
// oneShot is for convert: every span is handed over at once and Shutdown
// flushes the rest, so requests are cut by size only, never by age; then
// the same input gives the same requests byte for byte however fast the
// machine is (the daemon keeps the age flush for trickles of forwarded
// spans).
func startExporter(ctx context.Context, o OutputConfig, oneShot bool, stdout io.Writer, getenv func(string) string, logger *slog.Logger) (*exporter.Exporter, string, error) {
	var client exporter.Client
	if o.Sink.Path == "-" {
		client = exporter.NewWriterClient(stdout)
	} else {
		c, err := exporter.NewClientFor(o.Sink, nil, getenv)
		if err != nil {
			return nil, "", fmt.Errorf("output: %w", err)
		}
		client = c
	}
	cfg := o.Policy
	if oneShot {
		cfg.FlushInterval = 24 * time.Hour
	}
	if err := cfg.Validate(); err != nil {
		return nil, "", fmt.Errorf("output: %w", err)
	}
	exp := exporter.New(client, cfg, logger)
	if err := exp.Start(ctx); err != nil {
		return nil, "", fmt.Errorf("output: starting exporter: %w", err)
	}
	where := o.Sink.Path
	if where == "" {
		where = o.Sink.Transport.Endpoint
		if where == "" {
			where = "the OTEL_EXPORTER_OTLP_* endpoint"
		}
	}
	return exp, where, nil
}

// bridgeScope is the instrumentation scope of the spans one part of the
// bridge makes: "vllm-otel-bridge/converter", "vllm-otel-bridge/linker",
// with the bridge's version.
func bridgeScope(part string) span.Scope {
	return span.Scope{Name: scopeName + "/" + part, Version: version.Get().Version}
}

// fileJob is one trace file on its way through the pipeline. Its name is
// parsed once: by the watcher (watcher.File.Name) or by jobForPath.
type fileJob struct {
	path string
	// size >= 0 converts exactly the first size bytes: the daemon passes
	// the size the watcher settled on and identified the file by, so a .gz
	// that grew again meanwhile reads as truncated (and is retried) instead
	// of being exported whole under the identity of its shorter self, which
	// a restart would not recognise. size < 0 reads to the end.
	size  int64
	name  tracefile.Info
	named bool // the base name parsed as a vLLM trace file name
}

// jobForFile is the job of a file the watcher offered (its name parsed).
func jobForFile(f watcher.File) fileJob {
	return fileJob{path: f.Path, size: f.Size, name: f.Name, named: true}
}

// jobForPath is the job of a file named on the command line, read whole.
func jobForPath(path string) fileJob {
	info, ok := tracefile.Parse(filepath.Base(path))
	return fileJob{path: path, size: -1, name: info, named: ok}
}

// filePipeline is what every trace file goes through, in run and convert
// alike: the converter's options, the file's resource, the linker, the
// scratch file, and the exporter's acknowledgement.
type filePipeline struct {
	convert     ConvertConfig
	serviceName string
	attrs       map[string]string // the user's resource attributes
	hostName    string            // host.name when the file name says none; "" = leave out
	linker      *linker.Linker    // nil: steps are not linked
	exp         *exporter.Exporter
	// fileAttrs adds resource attributes for one trace file by path (the
	// profiling capture that produced it); nil adds none.
	fileAttrs func(path string) []span.Attr
	// traceIDs makes process collect the ids of the traces it exported
	// (their root spans), for fileResult.traceIDs.
	traceIDs bool
	// metrics records the step metrics of each file once its spans were
	// acknowledged; nil records none.
	metrics *stepmetrics.Recorder
	// steps writes the steps' cross-rank roots (rankjoin); nil: each file
	// writes its steps' roots from its own rank alone.
	steps *rankjoin.Joiner
}

// options are the converter's options for job.
func (p *filePipeline) options(job fileJob) converter.Options {
	opts := converter.DefaultOptions()
	opts.MaxSpansPerTrace = p.convert.MaxSpansPerTrace
	opts.PythonSpans = p.convert.PythonSpans
	opts.NoInsights = !p.convert.Insights
	opts.Thresholds = p.convert.Thresholds
	opts.Scope = bridgeScope("converter")
	opts.Resource = p.resource(job)
	opts.IdentityAttrs = p.identity()
	if p.linker != nil {
		opts.Linker = p.linker
	}
	// The file name's export time, used by the converter only for traces
	// without an absolute time base.
	if job.named && !job.name.ExportTime.IsZero() {
		opts.ExportTimeNs = job.name.ExportTime.UnixNano()
	}
	return opts
}

// convertOptions is p.options(job) with the spill file the configuration
// asks for; closeSpill releases it (a no-op without one).
func (p *filePipeline) convertOptions(job fileJob) (opts converter.Options, closeSpill func(), err error) {
	opts = p.options(job)
	sp, err := openSpill(p.convert.SpillDir)
	if err != nil || sp == nil {
		return opts, func() {}, err
	}
	opts.Spill = sp
	return opts, func() { sp.Close() }, nil
}

// identity is what makes this pipeline's exports differ from another's
// (converter.Options.IdentityAttrs): the service name and the user's
// resource attributes, sorted by key.
func (p *filePipeline) identity() []span.Attr {
	attrs := []span.Attr{span.String("service.name", p.serviceName)}
	keys := make([]string, 0, len(p.attrs))
	for k := range p.attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "service.name" {
			attrs[0] = span.String(k, p.attrs[k])
			continue
		}
		attrs = append(attrs, span.String(k, p.attrs[k]))
	}
	return attrs
}

// resource builds the resource attributes of one trace file: the service
// name, the user's attributes, what the file name says (rank, host, pid),
// and hostName when the name says none. The converter adds what the trace
// content says (GPU, CUDA versions, distributedInfo) for keys not set.
func (p *filePipeline) resource(job fileJob) []span.Attr {
	attrs := p.identity()
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		seen[a.Key] = true
	}
	add := func(a span.Attr) {
		if !seen[a.Key] {
			seen[a.Key] = true
			attrs = append(attrs, a)
		}
	}
	if job.named {
		for _, a := range job.name.ResourceAttrs() {
			add(a)
		}
	}
	if p.fileAttrs != nil {
		for _, a := range p.fileAttrs(job.path) {
			add(a)
		}
	}
	add(span.String("vllm.trace.file", filepath.Base(job.path)))
	if p.hostName != "" {
		add(span.String("host.name", p.hostName))
	}
	add(span.String("telemetry.sdk.name", scopeName))
	add(span.String("telemetry.sdk.version", version.Get().Version))
	return attrs
}

// linkerResource is the resource of the spans the linker writes on its
// own (request-step spans of requests that finish after their steps, the
// llm_request roots from logs): the service name and the same host.name
// as the trace files' spans (the user's resource attribute, else
// hostName), so a request-step span has one resource whenever it is
// written and Jaeger's clock-skew adjuster sees one host.
func linkerResource(serviceName, hostName string, attrs map[string]string) *span.Resource {
	r := &span.Resource{Attrs: []span.Attr{span.String("service.name", serviceName)}}
	if h, ok := attrs["host.name"]; ok {
		hostName = h
	}
	if hostName != "" {
		r.Attrs = append(r.Attrs, span.String("host.name", hostName))
	}
	return r
}

// fileResult is what one file's trip through the pipeline gave.
type fileResult struct {
	stats     converter.Stats
	converted time.Duration // converting took (the acknowledgement comes after)
	// stage names the step that failed: "conversion" or "export".
	stage string
	// books is the converter's books check (converter.Stats.CheckBooks):
	// non-nil when the file's events are not all accounted for, a
	// converter bug. The spans were still exported.
	books error
	// traceIDs are the exported traces' ids (hex), with
	// filePipeline.traceIDs only.
	traceIDs []string
}

// process converts job, hands its spans to the exporter and waits until
// the backend acknowledged every one of them.
func (p *filePipeline) process(ctx context.Context, job fileJob) (fileResult, error) {
	start := time.Now()
	t := p.exp.NewTracker()
	var res fileResult
	steps := p.metrics.NewFile()
	st, err := p.convertFile(ctx, job, t, &res.traceIDs, steps)
	res.stats, res.converted = st, time.Since(start)
	if err != nil {
		t.Close()
		res.stage = "conversion"
		return res, err
	}
	res.books = st.CheckBooks()
	if err := t.Wait(ctx); err != nil {
		res.stage = "export"
		return res, err
	}
	steps.Commit(ctx)
	return res, nil
}

// spillOff is the spill_dir value that keeps the converter's scratch data
// in memory.
const spillOff = "off"

// openSpill returns the converter's scratch file for one conversion: a
// temporary file in dir, or in the system temp directory when dir is
// empty, unlinked at once so that nothing is left behind even after
// kill -9. It returns nil, nil for spill_dir "off", and also when the
// default temp directory cannot be written (a read-only root file system
// without a /tmp volume): the converter then keeps its records in memory,
// which works but grows with the trace. A directory the user named must
// work.
func openSpill(dir string) (*os.File, error) {
	if dir == spillOff {
		return nil, nil
	}
	named := dir != ""
	if !named {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "vllm-otel-bridge-spill-*")
	if err != nil {
		if named {
			return nil, fmt.Errorf("spill_dir: %w", err)
		}
		return nil, nil
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("spill_dir: unlinking %s: %w", f.Name(), err)
	}
	return f, nil
}

// convertFile converts one trace file and hands its spans to the exporter
// under tracker t. It does not wait for the acknowledgement. The
// converter's records and args go to a scratch file (openSpill), so its
// memory stays flat however large the trace. steps reads the step roots
// of each batch for the metrics (nil: none).
func (p *filePipeline) convertFile(ctx context.Context, job fileJob, t *exporter.Tracker, traceIDs *[]string, steps *stepmetrics.File) (converter.Stats, error) {
	f, err := os.Open(job.path)
	if err != nil {
		return converter.Stats{}, err
	}
	defer f.Close()
	var r io.Reader = f
	if job.size >= 0 {
		r = io.LimitReader(f, job.size)
	}
	opts, closeSpill, err := p.convertOptions(job)
	if err != nil {
		return converter.Stats{}, err
	}
	defer closeSpill()
	emit := func(b *span.Batch) error {
		if p.traceIDs {
			for i := range b.Spans {
				if b.Spans[i].Parent.IsZero() {
					*traceIDs = append(*traceIDs, b.Spans[i].TraceID.String())
				}
			}
		}
		steps.Add(b)
		return p.exp.Export(ctx, b, t)
	}
	if p.steps != nil {
		opts.Steps = p.steps.ForFile(emit)
	}
	return converter.Convert(ctx, r, opts, emit)
}

// rankZeroOrUnknown lets request-side spans come from one rank only: with
// tensor parallelism every rank's file holds the same steps.
func rankZeroOrUnknown(r *span.Resource) bool {
	if r == nil {
		return true
	}
	v, ok := span.Lookup(r.Attrs, "vllm.rank")
	return !ok || v.Type != span.TypeInt || v.Num == 0
}
