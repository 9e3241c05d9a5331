package receiver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files in a temporary directory.
type testPKI struct {
	dir                 string
	caPool              *x509.CertPool
	client              tls.Certificate
	otherClient         tls.Certificate // signed by an unrelated CA
	caFile              string
	serverCert, servKey string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	caCert, caKey := makeCert(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	})
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(caCert)
	p.caFile = p.writePEM(t, "ca.pem", "CERTIFICATE", caCert.Raw)

	srv, srvKey := makeCert(t, caCert, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "receiver"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	})
	p.serverCert = p.writePEM(t, "server.pem", "CERTIFICATE", srv.Raw)
	p.servKey = p.writePEM(t, "server.key", "PRIVATE KEY", marshalKey(t, srvKey))

	cli, cliKey := makeCert(t, caCert, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "vllm"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	})
	p.client = tls.Certificate{Certificate: [][]byte{cli.Raw}, PrivateKey: cliKey}

	otherCA, otherKey := makeCert(t, nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "other CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	})
	other, otherCliKey := makeCert(t, otherCA, otherKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "intruder"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	})
	p.otherClient = tls.Certificate{Certificate: [][]byte{other.Raw}, PrivateKey: otherCliKey}
	return p
}

var serial int64

// makeCert creates a certificate from tmpl, signed by parent (self-signed
// when parent is nil).
func makeCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	signer := key
	if parent == nil {
		parent = tmpl
	} else {
		signer = parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func marshalKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (p *testPKI) writePEM(t *testing.T, name, typ string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLS(t *testing.T) {
	p := newTestPKI(t)
	for _, mtls := range []bool{false, true} {
		name := "tls"
		if mtls {
			name = "mtls"
		}
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			cfg.TLS = TLSConfig{CertFile: p.serverCert, KeyFile: p.servKey}
			if mtls {
				cfg.TLS.ClientCAFile = p.caFile
			}
			s := newSink()
			r := startReceiver(t, cfg, s)
			want := makeRequest(9, 3)
			body := mustMarshal(t, want)
			hdr := map[string]string{"Content-Type": "application/x-protobuf"}
			url := "https://" + r.Addrs().HTTP + HTTPTracesPath

			clientTLS := func(cert *tls.Certificate) *tls.Config {
				c := &tls.Config{RootCAs: p.caPool, MinVersion: tls.VersionTLS12}
				if cert != nil {
					c.Certificates = []tls.Certificate{*cert}
				}
				return c
			}
			sendGRPC := func(c *tls.Config) error {
				cc, err := grpc.NewClient(r.Addrs().GRPC, grpc.WithTransportCredentials(credentials.NewTLS(c)))
				if err != nil {
					return err
				}
				defer cc.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, err = grpcClientFromConn(cc).Export(ctx, want)
				return err
			}
			sendHTTP := func(c *tls.Config) (int, error) {
				tr := &http.Transport{TLSClientConfig: c, ForceAttemptHTTP2: true}
				defer tr.CloseIdleConnections()
				res, err := tryPostHTTP(&http.Client{Transport: tr, Timeout: 5 * time.Second}, url, body, hdr)
				return res.code, err
			}

			good := clientTLS(nil)
			if mtls {
				good = clientTLS(&p.client)
			}
			if err := sendGRPC(good); err != nil {
				t.Errorf("gRPC with a good client: %v", err)
			}
			if code, err := sendHTTP(good); err != nil || code != 200 {
				t.Errorf("HTTPS with a good client: %d %v", code, err)
			}
			if got := s.requests(); len(got) != 2 || !proto.Equal(got[0], want) || !proto.Equal(got[1], want) {
				t.Errorf("consumer got %d requests, want 2 equal to what was sent", len(got))
			}

			// Plain text to a TLS listener fails.
			if _, err := tryPostHTTP(&http.Client{Timeout: 5 * time.Second}, "http://"+r.Addrs().HTTP+HTTPTracesPath, body, hdr); err == nil {
				// Go's server answers plain HTTP on a TLS port with a 400
				// response; either way nothing is accepted.
				t.Log("plain HTTP to TLS port got an answer")
			}
			// A client that does not trust the server's CA fails.
			if err := sendGRPC(&tls.Config{MinVersion: tls.VersionTLS12}); err == nil {
				t.Error("gRPC client without the CA connected")
			}
			if mtls {
				for name, c := range map[string]*tls.Config{"no client cert": clientTLS(nil), "untrusted client cert": clientTLS(&p.otherClient)} {
					if err := sendGRPC(c); err == nil {
						t.Errorf("gRPC with %s accepted", name)
					}
					if code, err := sendHTTP(c); err == nil {
						t.Errorf("HTTPS with %s got status %d", name, code)
					}
				}
			}
			if n := len(s.requests()); n != 2 {
				t.Errorf("consumer got %d requests, want only the 2 good ones", n)
			}
		})
	}
}
