package configtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate and its key as PEM files in
// dir and returns their paths.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(certFile, "CERTIFICATE", der)
	write(keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

func TestClientAndServer(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)

	if c, err := (Config{}).Client(); c != nil || err != nil {
		t.Fatalf("no files: got %v, %v; want nil, nil (the client's default)", c, err)
	}
	c, err := Config{CAFile: cert, CertFile: cert, KeyFile: key}.Client()
	if err != nil {
		t.Fatal(err)
	}
	if c.RootCAs == nil || len(c.Certificates) != 1 || c.MinVersion != tls.VersionTLS12 {
		t.Errorf("client config %+v", c)
	}

	s, err := Config{CertFile: cert, KeyFile: key}.Server()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Certificates) != 1 || s.ClientAuth != tls.NoClientCert || s.MinVersion != tls.VersionTLS12 {
		t.Errorf("server config %+v", s)
	}
	m, err := Config{CertFile: cert, KeyFile: key, ClientCAFile: cert}.Server()
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
	cert, key := selfSigned(t, dir)
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
