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
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/version"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/tracefile"
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

// fileResource builds the resource attributes of one trace file: the
// service name, the user's attributes, what the file name says (rank, host,
// pid), and hostName when the name says none. The converter adds what the
// trace content says (GPU, CUDA versions, distributedInfo) for keys not set.
func fileResource(path, serviceName string, extra map[string]string, hostName string) []span.Attr {
	attrs := []span.Attr{span.String("service.name", serviceName)}
	seen := map[string]bool{"service.name": true}
	add := func(a span.Attr) {
		if !seen[a.Key] {
			seen[a.Key] = true
			attrs = append(attrs, a)
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "service.name" {
			attrs[0] = span.String(k, extra[k])
			continue
		}
		add(span.String(k, extra[k]))
	}
	base := filepath.Base(path)
	if info, ok := tracefile.Parse(base); ok {
		for _, a := range info.ResourceAttrs() {
			add(a)
		}
	}
	add(span.String("vllm.trace.file", base))
	if hostName != "" {
		add(span.String("host.name", hostName))
	}
	add(span.String("telemetry.sdk.name", scopeName))
	add(span.String("telemetry.sdk.version", version.Get().Version))
	return attrs
}

// exportTimeNs is the file name's export time, used by the converter only
// for traces without an absolute time base.
func exportTimeNs(path string) int64 {
	if info, ok := tracefile.Parse(filepath.Base(path)); ok && !info.ExportTime.IsZero() {
		return info.ExportTime.UnixNano()
	}
	return 0
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

// convertFile converts one trace file and hands its spans to exp under
// tracker t. It does not wait for the acknowledgement. The converter's
// records and args go to a scratch file (openSpill), so its memory stays
// flat however large the trace.
//
// size >= 0 converts exactly the first size bytes: the daemon passes the
// size the watcher settled on and identified the file by, so a .gz that
// grew again meanwhile reads as truncated (and is retried) instead of
// being exported whole under the identity of its shorter self, which a
// restart would not recognise. size < 0 reads to the end.
func convertFile(ctx context.Context, path string, size int64, spillDir string, opts converter.Options, exp *exporter.Exporter, t *exporter.Tracker) (converter.Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return converter.Stats{}, err
	}
	defer f.Close()
	var r io.Reader = f
	if size >= 0 {
		r = io.LimitReader(f, size)
	}
	sp, err := openSpill(spillDir)
	if err != nil {
		return converter.Stats{}, err
	}
	if sp != nil {
		defer sp.Close()
		opts.Spill = sp
	}
	if opts.ExportTimeNs == 0 {
		opts.ExportTimeNs = exportTimeNs(path)
	}
	return converter.Convert(ctx, r, opts, func(b *span.Batch) error {
		return exp.Export(ctx, b, t)
	})
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
