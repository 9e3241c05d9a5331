package exporter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configtls"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
)

// testPKI makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, writes the PEM files to dir and returns the server's TLS
// config, which requires a client certificate (mTLS).
func testPKI(t *testing.T, dir string) *tls.Config {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "otlptest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
		k := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	sc, sk := issue("server", 2, x509.ExtKeyUsageServerAuth)
	cc, ck := issue("client", 3, x509.ExtKeyUsageClientAuth)
	write("client.pem", cc)
	write("client-key.pem", ck)
	serverCert, err := tls.X509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	col := startCollector(t, otlptest.Options{TLS: testPKI(t, dir)})
	opts := TransportOptions{TLS: configtls.Config{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "client.pem"),
		KeyFile:  filepath.Join(dir, "client-key.pem"),
	}}
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
