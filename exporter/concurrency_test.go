package exporter

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpproto"
)

// TestConcurrentProducers: several files exported at once, plain and
// forwarded spans mixed; every tracker sees exactly its own spans.
func TestConcurrentProducers(t *testing.T) {
	col := testkit.StartCollector(t, otlptest.Options{})
	cfg := senders(16<<10, 3, 1)
	e := startExporter(t, clientFor(t, "grpc", col), cfg)
	const producers, batches, per = 4, 10, 40
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := e.NewTracker()
			for i := range batches {
				first := (p*batches + i) * per
				b := kernelBatch(testResource, first, per)
				var err error
				if i%2 == 0 {
					err = e.Export(context.Background(), b, tr)
				} else {
					err = e.ExportRaw(context.Background(), []*tracepb.ResourceSpans{otlpproto.ToProto(b)}, tr)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			if err := tr.Wait(ctxT(t)); err != nil {
				errs <- err
				return
			}
			if got := tr.Acked(); got != batches*per {
				errs <- errors.New("tracker acked a wrong number of spans")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ids := spanIDs(col.Requests())
	if len(ids) != producers*batches*per {
		t.Fatalf("%d distinct spans, want %d", len(ids), producers*batches*per)
	}
	if m := col.Stats().MaxBytes; m > int(cfg.MaxRequestBytes) {
		t.Fatalf("request of %d bytes > %d", m, cfg.MaxRequestBytes)
	}
}

// TestExportHonoursContext: a producer blocked by backpressure gives up
// when its context ends, and its tracker reports the failure.
func TestExportHonoursContext(t *testing.T) {
	col := testkit.StartCollector(t, otlptest.Options{})
	e := startExporter(t, clientFor(t, "http-protobuf", col), senders(4<<10, 1, 0))
	col.Down()
	tr := e.NewTracker()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var err error
	for i := 0; err == nil && i < 1000; i++ {
		err = e.Export(ctx, kernelBatch(testResource, i*20, 20), tr)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Export = %v, want the context's deadline", err)
	}
	if werr := tr.Wait(ctxT(t)); werr == nil {
		t.Fatal("tracker reported success for spans that were not sent")
	}
	// Nothing else is lost: the backend comes back and the exporter goes on.
	if err := col.Up(); err != nil {
		t.Fatal(err)
	}
	tr2 := e.NewTracker()
	if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 5), tr2); err != nil {
		t.Fatal(err)
	}
	if err := tr2.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// TestForeignClient: a Client without the fast path (a plain
// otlptrace.Client) gets decoded tracepb.
func TestForeignClient(t *testing.T) {
	fc := &recordingClient{}
	e := startExporter(t, fc, fastConfig())
	b := kernelBatch(testResource, 0, 3)
	tr := e.NewTracker()
	if err := e.Export(ctxT(t), b, tr); err != nil {
		t.Fatal(err)
	}
	if err := tr.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(fc.got) != 1 || len(fc.got[0].ScopeSpans[0].Spans) != 3 || fc.got[0].ScopeSpans[0].Spans[2].Name != b.Spans[2].Name {
		t.Fatalf("foreign client got %v", fc.got)
	}
}

type recordingClient struct {
	mu  sync.Mutex
	got []*tracepb.ResourceSpans
}

func (*recordingClient) Start(context.Context) error { return nil }
func (*recordingClient) Stop(context.Context) error  { return nil }
func (c *recordingClient) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, rs...)
	return nil
}
