package exporter

import (
	"errors"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configtls"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

func TestMutualTLS(t *testing.T) {
	p := testkit.NewPKI(t)
	col := testkit.StartCollector(t, otlptest.Options{TLS: p.ServerTLS(true)})
	opts := TransportOptions{TLS: configtls.Config{CAFile: p.CAFile, CertFile: p.ClientCertFile, KeyFile: p.ClientKeyFile}}
	tests := []struct {
		name    string
		sink    SinkConfig
		env     map[string]string
		wantErr error
	}{
		{"grpc-options", SinkConfig{Protocol: ProtocolGRPC, Transport: withEndpoint(opts, col.GRPCEndpoint())}, nil, nil},
		{"http-options", SinkConfig{Protocol: ProtocolHTTPProtobuf, Transport: withEndpoint(opts, col.HTTPURL())}, nil, nil},
		{"grpc-env", SinkConfig{Protocol: ProtocolGRPC}, map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":           "https://" + col.GRPCEndpoint(),
			"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE":        opts.TLS.CAFile,
			"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": opts.TLS.CertFile,
			"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY":         opts.TLS.KeyFile,
		}, nil},
		{"http-env", SinkConfig{Protocol: ProtocolHTTPProtobuf}, map[string]string{
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":    col.HTTPURL(),
			"OTEL_EXPORTER_OTLP_CERTIFICATE":        opts.TLS.CAFile,
			"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": opts.TLS.CertFile,
			"OTEL_EXPORTER_OTLP_CLIENT_KEY":         opts.TLS.KeyFile,
		}, nil},
		{"http-no-client-cert", SinkConfig{Protocol: ProtocolHTTPProtobuf, Transport: TransportOptions{Endpoint: col.HTTPURL(), TLS: configtls.Config{CAFile: opts.TLS.CAFile}}}, nil, ErrPermanent},
		// gRPC reports TLS failures as Unavailable: retried until max_elapsed_time.
		{"grpc-no-client-cert", SinkConfig{Protocol: ProtocolGRPC, Transport: TransportOptions{Endpoint: col.GRPCEndpoint(), TLS: configtls.Config{CAFile: opts.TLS.CAFile}}}, nil, ErrRetriesExhausted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cl, err := NewClientFor(tc.sink, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg := fastConfig()
			cfg.Retry.MaxElapsedTime = 200 * time.Millisecond
			e := startExporter(t, cl, cfg)
			tr := e.NewTracker()
			if err := e.Export(ctxT(t), kernelBatch(testResource, 0, 5), tr); err != nil {
				t.Fatal(err)
			}
			err = tr.Wait(ctxT(t))
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Wait = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func withEndpoint(o TransportOptions, ep string) TransportOptions {
	o.Endpoint = ep
	return o
}
