package exporter

import (
	"context"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// benchBatches returns the batches of n kernel spans (10 attributes),
// 1,000 per batch as the converter emits them.
func benchBatches(n int) []*span.Batch {
	var out []*span.Batch
	for i := 0; i < n; i += 1000 {
		out = append(out, kernelBatch(testResource, i, min(1000, n-i)))
	}
	return out
}

func runExport(b *testing.B, e *Exporter, batches []*span.Batch, spans int) {
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		tr := e.NewTracker()
		for _, bt := range batches {
			if err := e.Export(ctx, bt, tr); err != nil {
				b.Fatal(err)
			}
		}
		if err := tr.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op-wall")
}

// BenchmarkExportDiscard: encoding, cutting and the send machinery, no
// transport.
func BenchmarkExportDiscard(b *testing.B) {
	const n = 100_000
	batches := benchBatches(n)
	e := New(&DiscardClient{}, DefaultConfig(), nil)
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	b.ReportAllocs()
	runExport(b, e, batches, n)
}

var (
	benchGRPC = flag.String("bench.grpc", "", "BenchmarkExport1M: send to this OTLP/gRPC host:port (a real Jaeger) instead of the in-process collector")
	benchHTTP = flag.String("bench.http", "", "BenchmarkExport1M: send to this OTLP/HTTP host:port instead of the in-process collector")
)

// BenchmarkExport1M sends 1,000,000 spans to the in-process collector on
// loopback (in discard mode: it counts without decoding), per protocol, or
// to the endpoints given by -bench.grpc / -bench.http. Run with
// -benchtime 1x; the wall time of one op is the figure to compare with the
// 5 s target (to a real Jaeger).
func BenchmarkExport1M(b *testing.B) {
	const n = 1_000_000
	batches := benchBatches(n)
	for _, p := range []string{"grpc", "http-protobuf"} {
		b.Run(p, func(b *testing.B) {
			col, err := otlptest.Start(otlptest.Options{Discard: true})
			if err != nil {
				b.Fatal(err)
			}
			defer col.Close()
			grpcEP, httpEP, external := col.GRPCEndpoint(), col.HTTPEndpoint(), false
			if *benchGRPC != "" && p == "grpc" {
				grpcEP, external = *benchGRPC, true
			}
			if *benchHTTP != "" && p != "grpc" {
				httpEP, external = *benchHTTP, true
			}
			var cl Client
			switch p {
			case "grpc":
				cl, err = NewGRPCClient(TransportOptions{Endpoint: grpcEP, Insecure: true})
			default:
				cl, err = NewHTTPClient(HTTPOptions{TransportOptions: TransportOptions{Endpoint: httpEP, Insecure: true}})
			}
			if err != nil {
				b.Fatal(err)
			}
			e := New(cl, DefaultConfig(), nil)
			if err := e.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = e.Shutdown(ctx)
			}()
			b.ReportAllocs()
			runExport(b, e, batches, n)
			if s := e.Stats(); s.SpansExported != int64(n)*int64(b.N) || s.Errors != 0 {
				b.Fatalf("exporter stats %+v", s)
			}
			if external {
				return
			}
			if got := col.Stats().Spans; got < n {
				b.Fatalf("collector got %d spans", got)
			}
			b.ReportMetric(float64(col.Stats().MaxBytes), "max-request-bytes")
		})
	}
}

// tracesOnly hides a client's RequestUploader, so the Exporter decodes
// each request to tracepb and calls UploadTraces (the file client's path
// before it transcoded encoded requests).
type tracesOnly struct{ Client }

// BenchmarkExportFile: 100,000 kernel spans through the Exporter into the
// OTLP/JSON file client writing to io.Discard. "transcode" is the file
// client's path (encoded protobuf → OTLP/JSON directly); "decode" is the
// path before it (proto.Unmarshal to tracepb, then the tracepb writer).
func BenchmarkExportFile(b *testing.B) {
	const n = 100_000
	batches := benchBatches(n)
	for _, tc := range []struct {
		name string
		cl   func() Client
	}{
		{"transcode", func() Client { return NewWriterClient(io.Discard) }},
		{"decode", func() Client { return tracesOnly{NewWriterClient(io.Discard)} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := New(tc.cl(), DefaultConfig(), nil)
			if err := e.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer e.Shutdown(context.Background())
			b.ReportAllocs()
			runExport(b, e, batches, n)
		})
	}
}
