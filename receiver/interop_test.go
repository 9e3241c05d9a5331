package receiver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"google.golang.org/protobuf/proto"
)

// TestOTelGoClients sends through the OpenTelemetry Go OTLP clients (the
// same protocol code paths as vLLM's Python exporter: gRPC and
// http/protobuf, gzip), with the consumer failing the first attempt: the
// clients must read the receiver's answer as retryable and deliver on retry.
func TestOTelGoClients(t *testing.T) {
	retry := func() (otlptracegrpc.RetryConfig, otlptracehttp.RetryConfig) {
		return otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsedTime: 10 * time.Second},
			otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsedTime: 10 * time.Second}
	}
	tests := []struct {
		name   string
		client func(BoundAddrs) otlptrace.Client
	}{
		{"otlptracegrpc", func(a BoundAddrs) otlptrace.Client {
			g, _ := retry()
			return otlptracegrpc.NewClient(otlptracegrpc.WithInsecure(), otlptracegrpc.WithEndpoint(a.GRPC),
				otlptracegrpc.WithCompressor("gzip"), otlptracegrpc.WithRetry(g))
		}},
		{"otlptracehttp", func(a BoundAddrs) otlptrace.Client {
			_, h := retry()
			return otlptracehttp.NewClient(otlptracehttp.WithInsecure(), otlptracehttp.WithEndpoint(a.HTTP),
				otlptracehttp.WithCompression(otlptracehttp.GzipCompression), otlptracehttp.WithRetry(h))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink()
			var calls atomic.Int64
			s.fail = func() error {
				if calls.Add(1) == 1 {
					return errBoom
				}
				return nil
			}
			cfg := testConfig()
			cfg.RetryAfter = 20 * time.Millisecond
			r := startReceiver(t, cfg, s)
			c := tc.client(r.Addrs())
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			want := makeRequest(4, 10)
			if err := c.UploadTraces(ctx, want.ResourceSpans); err != nil {
				t.Errorf("UploadTraces: %v", err)
			}
			if err := c.Stop(ctx); err != nil {
				t.Errorf("Stop: %v", err)
			}
			got := s.requests()
			if len(got) != 1 || !proto.Equal(got[0], want) {
				t.Fatalf("consumer stored %d requests, want 1 equal to what was sent", len(got))
			}
			if st := r.Stats(); st.ConsumerErrors != 1 || st.Requests != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}
