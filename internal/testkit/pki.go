package testkit

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
	"testing"
	"time"
)

// PKI is a throw-away certificate authority with a server certificate for
// 127.0.0.1 and localhost and a client certificate, valid for an hour
// either side of now, as PEM files in a temporary directory and as parsed
// values. Two PKIs share nothing: one's CA does not sign the other's
// certificates (a test's "wrong CA" or "untrusted client").
type PKI struct {
	CAFile                        string         // the CA certificate
	CAPool                        *x509.CertPool // holding only the CA
	ServerCertFile, ServerKeyFile string
	Server                        tls.Certificate
	ClientCertFile, ClientKeyFile string
	Client                        tls.Certificate
}

// NewPKI makes a PKI in a directory of t.TempDir.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vllm-otel-bridge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("creating the test CA: %v", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("parsing the test CA: %v", err)
	}
	p := &PKI{CAFile: writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER), CAPool: x509.NewCertPool()}
	p.CAPool.AddCert(ca)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (certFile, keyFile string, c tls.Certificate) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatalf("issuing the %s certificate: %v", name, err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatalf("encoding the %s key: %v", name, err)
		}
		certFile = writePEM(t, dir, name+".pem", "CERTIFICATE", der)
		keyFile = writePEM(t, dir, name+"-key.pem", "PRIVATE KEY", kder)
		c, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatalf("loading the %s key pair: %v", name, err)
		}
		return certFile, keyFile, c
	}
	p.ServerCertFile, p.ServerKeyFile, p.Server = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.ClientCertFile, p.ClientKeyFile, p.Client = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

// ServerTLS is a server configuration with the server certificate; with
// mutual set it also requires a client certificate signed by the CA.
func (p *PKI) ServerTLS(mutual bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{p.Server}, MinVersion: tls.VersionTLS12}
	if mutual {
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, p.CAPool
	}
	return c
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating a test key: %v", err)
	}
	return k
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	return path
}
