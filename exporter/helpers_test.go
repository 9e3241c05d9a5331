package exporter

import (
	"context"
	"log/slog"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/bytesize"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// kernelBatch returns n kernel-like spans with 10 attributes, keys from
// first on, sharing one resource.
func kernelBatch(res *span.Resource, first, n int) *span.Batch {
	ids := span.NewIDSource([]byte("exporter-test"))
	b := &span.Batch{Resource: res, Scope: span.Scope{Name: "vllm-otel-bridge", Version: "test"}, Spans: make([]span.Span, n)}
	for i := range n {
		k := uint64(first + i)
		b.Spans[i] = span.Span{
			TraceID: ids.TraceID(k / 1000), SpanID: ids.SpanID(k), Parent: ids.SpanID(k / 1000 * 1000),
			Name: "vectorized_elementwise_kernel", Kind: span.KindInternal,
			Start: 1_764_255_600_000_000_000 + int64(k)*1000, End: 1_764_255_600_000_000_000 + int64(k)*1000 + 640,
			Attrs: []span.Attr{
				span.String("cuda.kernel.name", "void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<c10::BFloat16>, at::detail::Array<char*, 1> >(int, at::native::FillFunctor<c10::BFloat16>, at::detail::Array<char*, 1>)"),
				span.Int("gpu.device.id", 0),
				span.Int("gpu.stream.id", 7),
				span.Int("cuda.correlation_id", int64(k)),
				span.Ints("cuda.kernel.grid", []int64{132, 1, 1}),
				span.Ints("cuda.kernel.block", []int64{256, 1, 1}),
				span.Int("cuda.kernel.registers_per_thread", 32),
				span.Float("cuda.kernel.occupancy", 0.5),
				span.Int("pytorch.external_id", int64(k)*2),
				span.String("vllm.step.kind", "generation"),
			},
		}
	}
	return b
}

// lightBatch returns n small spans (one attribute), keys from first on.
func lightBatch(first, n int) *span.Batch {
	ids := span.NewIDSource([]byte("exporter-test"))
	b := &span.Batch{Resource: testResource, Spans: make([]span.Span, n)}
	for i := range n {
		k := uint64(first + i)
		b.Spans[i] = span.Span{
			TraceID: ids.TraceID(k / 1000), SpanID: ids.SpanID(k), Name: "k",
			Start: int64(k) + 1, End: int64(k) + 2, Attrs: []span.Attr{span.Int("i", int64(k))},
		}
	}
	return b
}

var testResource = &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm"), span.Int("process.pid", 4242)}}

func fastConfig() Config {
	c := DefaultConfig()
	c.Retry.InitialInterval = 5 * time.Millisecond
	c.Retry.MaxInterval = 50 * time.Millisecond
	c.FlushInterval = 50 * time.Millisecond
	return c
}

// senders is fastConfig with requests of at most reqBytes and inFlight
// senders behind a queue of queue requests.
func senders(reqBytes bytesize.ByteSize, inFlight, queue int) Config {
	c := fastConfig()
	c.MaxRequestBytes = reqBytes
	c.MaxInFlight, c.QueueSize = inFlight, queue
	return c
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func startExporter(t testing.TB, cl Client, cfg Config) *Exporter {
	t.Helper()
	e := New(cl, cfg, testLogger(t))
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx)
	})
	return e
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func boolp(b bool) *bool { return &b }

// spanIDs returns the span ids received, counting duplicates.
func spanIDs(reqs []*coltracepb.ExportTraceServiceRequest) map[[8]byte]int {
	m := make(map[[8]byte]int)
	for _, r := range reqs {
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					m[[8]byte(s.SpanId)]++
				}
			}
		}
	}
	return m
}
