package configtls

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

func TestClientAndServer(t *testing.T) {
	p := testkit.NewPKI(t)

	if c, err := (Config{}).Client(); c != nil || err != nil {
		t.Fatalf("no files: got %v, %v; want nil, nil (the client's default)", c, err)
	}
	c, err := Config{CAFile: p.CAFile, CertFile: p.ClientCertFile, KeyFile: p.ClientKeyFile}.Client()
	if err != nil {
		t.Fatal(err)
	}
	if c.RootCAs == nil || len(c.Certificates) != 1 || c.MinVersion != tls.VersionTLS12 {
		t.Errorf("client config %+v", c)
	}

	s, err := Config{CertFile: p.ServerCertFile, KeyFile: p.ServerKeyFile}.Server()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Certificates) != 1 || s.ClientAuth != tls.NoClientCert || s.MinVersion != tls.VersionTLS12 {
		t.Errorf("server config %+v", s)
	}
	m, err := Config{CertFile: p.ServerCertFile, KeyFile: p.ServerKeyFile, ClientCAFile: p.CAFile}.Server()
	if err != nil {
		t.Fatal(err)
	}
	if m.ClientCAs == nil || m.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("mTLS server config %+v", m)
	}

	// The two sides agree: a handshake over a pipe succeeds.
	a, b := netPipe(t)
	srv, cli := tls.Server(a, m), tls.Client(b, &tls.Config{RootCAs: c.RootCAs, Certificates: c.Certificates, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	done := make(chan error, 1)
	go func() { done <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	p := testkit.NewPKI(t)
	cert, key := p.ServerCertFile, p.ServerKeyFile
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"cert without key", Config{CertFile: cert}.Validate, "key_file"},
		{"client cert without key", func() error { _, err := Config{CertFile: cert}.Client(); return err }, "key_file"},
		{"missing ca", func() error { _, err := Config{CAFile: filepath.Join(dir, "nope")}.Client(); return err }, "ca_file"},
		{"ca not pem", func() error { _, err := Config{CAFile: notPEM}.Client(); return err }, "no PEM certificate"},
		{"server without cert", func() error { _, err := Config{KeyFile: key}.Server(); return err }, "cert_file"},
		{"server without key", func() error { _, err := Config{CertFile: cert}.Server(); return err }, "key_file"},
		{"bad pair", func() error { _, err := Config{CertFile: cert, KeyFile: notPEM}.Server(); return err }, "key_file"},
		{"client ca not pem", func() error {
			_, err := Config{CertFile: cert, KeyFile: key, ClientCAFile: notPEM}.Server()
			return err
		}, "client_ca_file"},
	}
	for _, tc := range tests {
		if err := tc.call(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	if err := (Config{CertFile: cert, KeyFile: key}).Validate(); err != nil {
		t.Errorf("pair rejected: %v", err)
	}
}

func netPipe(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}
