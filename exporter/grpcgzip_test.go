package exporter

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcstats "google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// gzipRequest is an OTLP request of n spans with distinct names, ids and
// times: compressible, as real span batches are.
func gzipRequest(n int) *coltracepb.ExportTraceServiceRequest {
	ss := &tracepb.ScopeSpans{}
	for i := range n {
		ss.Spans = append(ss.Spans, &tracepb.Span{
			TraceId:           bytes.Repeat([]byte{byte(i%7 + 1)}, 16),
			SpanId:            []byte{0, 0, 0, 0, byte(i >> 16), byte(i >> 8), byte(i), 1},
			Name:              fmt.Sprintf("ampere_sm90_xmma_gemm_%d", i%13),
			StartTimeUnixNano: uint64(1_700_000_000_000_000_000 + i*1000),
			EndTimeUnixNano:   uint64(1_700_000_000_000_000_000 + i*1000 + 700),
		})
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{ss}}}}
}

func TestGRPCGzipIsRegistered(t *testing.T) {
	c, ok := encoding.GetCompressor("gzip").(*grpcGzip)
	if !ok {
		t.Fatalf("grpc's \"gzip\" compressor is %T, want the exporter's *grpcGzip", encoding.GetCompressor("gzip"))
	}
	if c.level != kgzip.BestSpeed {
		t.Errorf("level %d, want BestSpeed (%d)", c.level, kgzip.BestSpeed)
	}
}

func compressWith(t *testing.T, c encoding.Compressor, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := c.Compress(&buf)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteClose(t, c.Name(), w, data)
	return buf.Bytes()
}

// The stdlib decodes what the compressor writes, with pooled writers
// reused across messages of different sizes (a reset writer must not
// carry state from the previous stream).
func TestGRPCGzipStdlibDecodes(t *testing.T) {
	c := newGRPCGzip(kgzip.BestSpeed)
	for _, n := range []int{0, 1, 5000, 10, 20000, 3} {
		want, err := proto.Marshal(gzipRequest(n))
		if err != nil {
			t.Fatal(err)
		}
		z := compressWith(t, c, want)
		if len(want) > 10000 && len(z)*3 > len(want) {
			t.Errorf("%d spans: %d bytes compressed to %d, less than 3x", n, len(want), len(z))
		}
		r, err := stdgzip.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatalf("%d spans: stdlib gzip header: %v", n, err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%d spans: stdlib gzip: %v", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%d spans: stdlib decoded %d bytes, want the %d written", n, len(got), len(want))
		}
	}
}

// The compressor decodes what the stdlib writes (the receiver's side),
// reusing pooled readers, and refuses what is not gzip.
func TestGRPCGzipDecodesStdlib(t *testing.T) {
	c := newGRPCGzip(kgzip.BestSpeed)
	for _, n := range []int{2000, 1, 7000} {
		want, _ := proto.Marshal(gzipRequest(n))
		var buf bytes.Buffer
		w := stdgzip.NewWriter(&buf)
		w.Write(want)
		w.Close()
		r, err := c.Decompress(&buf)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		r.(io.Closer).Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("%d spans: decoded %d bytes, want %d", n, len(got), len(want))
		}
	}
	if _, err := c.Decompress(bytes.NewReader([]byte("not gzip at all"))); err == nil {
		t.Error("Decompress of non-gzip bytes: no error")
	}
}

// Concurrent streams through one compressor do not share writer or
// reader state (run under -race).
func TestGRPCGzipConcurrent(t *testing.T) {
	c := newGRPCGzip(kgzip.BestSpeed)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				want, _ := proto.Marshal(gzipRequest(100 + 37*g + i))
				var buf bytes.Buffer
				w, _ := c.Compress(&buf)
				w.Write(want)
				if err := w.Close(); err != nil {
					errs <- err
					return
				}
				r, err := c.Decompress(&buf)
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(r)
				r.(io.Closer).Close()
				if err != nil || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("goroutine %d message %d: %d bytes back of %d (%v)", g, i, len(got), len(want), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// recordingTrace is a gRPC trace service that keeps the span names it
// receives.
type recordingTrace struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
}

func (s *recordingTrace) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				s.names = append(s.names, sp.Name)
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// wireStats records, per incoming request, the grpc-encoding it came
// with and its compressed and uncompressed payload sizes.
type wireStats struct {
	mu          sync.Mutex
	encodings   []string
	wire, plain int
}

func (w *wireStats) TagRPC(ctx context.Context, _ *grpcstats.RPCTagInfo) context.Context { return ctx }
func (w *wireStats) TagConn(ctx context.Context, _ *grpcstats.ConnTagInfo) context.Context {
	return ctx
}
func (w *wireStats) HandleConn(context.Context, grpcstats.ConnStats) {}
func (w *wireStats) HandleRPC(_ context.Context, s grpcstats.RPCStats) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch s := s.(type) {
	case *grpcstats.InHeader:
		w.encodings = append(w.encodings, s.Compression)
	case *grpcstats.InPayload:
		w.wire += s.CompressedLength
		w.plain += s.Length
	}
}

// A GRPCClient with Compression "gzip" sends gzip on the wire to a real
// grpc server, which decodes every span.
func TestGRPCClientGzipRoundTrip(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ws := &wireStats{}
	svc := &recordingTrace{}
	srv := grpc.NewServer(grpc.StatsHandler(ws))
	coltracepb.RegisterTraceServiceServer(srv, svc)
	go srv.Serve(lis)
	defer srv.Stop()

	cl, err := NewGRPCClient(TransportOptions{Endpoint: "http://" + lis.Addr().String(), Compression: "gzip"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := cl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer cl.Stop(context.Background())
	var want []string
	for _, n := range []int{3000, 1, 8000} {
		req := gzipRequest(n)
		if err := cl.UploadTraces(ctx, req.ResourceSpans); err != nil {
			t.Fatalf("upload of %d spans: %v", n, err)
		}
		for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
			want = append(want, sp.Name)
		}
	}
	srv.GracefulStop()

	svc.mu.Lock()
	got := svc.names
	svc.mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("server decoded %d spans, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("span %d: name %q, want %q", i, got[i], want[i])
		}
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.encodings) != 3 {
		t.Fatalf("server saw %d requests, want 3", len(ws.encodings))
	}
	for i, e := range ws.encodings {
		if e != "gzip" {
			t.Errorf("request %d: grpc-encoding %q, want gzip", i, e)
		}
	}
	if ws.wire == 0 || ws.wire*3 > ws.plain {
		t.Errorf("payloads: %d bytes on the wire for %d decoded, want under a third", ws.wire, ws.plain)
	}
}

// captureClient keeps a copy of every encoded request body.
type captureClient struct {
	DiscardClient
	mu     sync.Mutex
	bodies [][]byte
}

func (c *captureClient) UploadRequest(_ context.Context, body []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bodies = append(c.bodies, bytes.Clone(body))
	return nil
}

// BenchmarkGzipLevels compares the candidate gRPC gzip levels on encoded
// OTLP span requests (~3 MiB, the Exporter's default request size): the
// stdlib's default (grpc's own compressor), klauspost's default,
// BestSpeed, StatelessCompression and HuffmanOnly. It reports the compression ratio beside the speed.
func BenchmarkGzipLevels(b *testing.B) {
	capture := &captureClient{}
	e := New(capture, DefaultConfig(), nil)
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	tr := e.NewTracker()
	for _, bt := range benchBatches(60_000) {
		if err := e.Export(context.Background(), bt, tr); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	batches := capture.bodies
	raw := 0
	for _, body := range batches {
		raw += len(body)
	}
	std := func(level int) func(io.Writer) io.WriteCloser {
		return func(w io.Writer) io.WriteCloser { z, _ := stdgzip.NewWriterLevel(w, level); return z }
	}
	for _, c := range []struct {
		name string
		new  func(io.Writer) io.WriteCloser
	}{
		{"stdlib-default", std(stdgzip.DefaultCompression)},
		{"klauspost-default", func(w io.Writer) io.WriteCloser { z, _ := kgzip.NewWriterLevel(w, kgzip.DefaultCompression); return z }},
		{"klauspost-bestspeed", func(w io.Writer) io.WriteCloser { z, _ := kgzip.NewWriterLevel(w, kgzip.BestSpeed); return z }},
		{"klauspost-stateless", func(w io.Writer) io.WriteCloser {
			z, _ := kgzip.NewWriterLevel(w, kgzip.StatelessCompression)
			return z
		}},
		{"klauspost-huffmanonly", func(w io.Writer) io.WriteCloser { z, _ := kgzip.NewWriterLevel(w, kgzip.HuffmanOnly); return z }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(raw))
			var out int
			for b.Loop() {
				out = 0
				for _, body := range batches {
					var buf bytes.Buffer
					z := c.new(&buf)
					z.Write(body)
					z.Close()
					out += buf.Len()
				}
			}
			b.ReportMetric(float64(raw)/float64(out), "ratio")
		})
	}
}
