package receiver

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }

func TestTLS(t *testing.T) {
	p := testkit.NewPKI(t)
	untrusted := testkit.NewPKI(t).Client // signed by an unrelated CA
	for _, mtls := range []bool{false, true} {
		name := "tls"
		if mtls {
			name = "mtls"
		}
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			cfg.TLS = TLSConfig{CertFile: p.ServerCertFile, KeyFile: p.ServerKeyFile}
			if mtls {
				cfg.TLS.ClientCAFile = p.CAFile
			}
			s := newSink()
			r := startReceiver(t, cfg, s)
			want := makeRequest(9, 3)
			body := mustMarshal(t, want)
			hdr := map[string]string{"Content-Type": "application/x-protobuf"}
			url := "https://" + r.Addrs().HTTP + HTTPTracesPath

			clientTLS := func(cert *tls.Certificate) *tls.Config {
				c := &tls.Config{RootCAs: p.CAPool, MinVersion: tls.VersionTLS12}
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
				good = clientTLS(&p.Client)
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
				for name, c := range map[string]*tls.Config{"no client cert": clientTLS(nil), "untrusted client cert": clientTLS(&untrusted)} {
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
