package configtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Config names PEM files; the yaml keys are the user's (output.tls.*,
// receiver.tls.*). Files are read by Client or Server, once.
type Config struct {
	// CAFile holds the CAs a client verifies its server with (clients only).
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the certificate chain and key: the client
	// certificate for mTLS, or the server certificate.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile turns on mutual TLS for a server: clients must present a
	// certificate signed by one of these CAs (servers only).
	ClientCAFile string `yaml:"client_ca_file"`
}

// minVersion is the oldest TLS version offered or accepted.
const minVersion = tls.VersionTLS12

// IsZero reports whether no file is named.
func (c Config) IsZero() bool { return c == Config{} }

// Validate checks that the certificate and key are named together. The
// error names the yaml key under the tls section.
func (c Config) Validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("cert_file and key_file go together")
	}
	return nil
}

// Client returns the TLS configuration of a client, or nil when neither a
// CA nor a client certificate is named (the client's own default then
// applies: system roots).
func (c Config) Client() (*tls.Config, error) {
	if c.CAFile == "" && c.CertFile == "" {
		return nil, nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: minVersion}
	if c.CAFile != "" {
		pool, err := loadPool("ca_file", c.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := loadPair(c)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Server returns the TLS configuration of a server: its certificate, and
// with ClientCAFile mutual TLS. CertFile and KeyFile are required.
func (c Config) Server() (*tls.Config, error) {
	if c.CertFile == "" {
		return nil, errors.New("cert_file: required for a TLS server")
	}
	if c.KeyFile == "" {
		return nil, errors.New("key_file: required for a TLS server")
	}
	cert, err := loadPair(c)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: minVersion, Certificates: []tls.Certificate{cert}}
	if c.ClientCAFile != "" {
		pool, err := loadPool("client_ca_file", c.ClientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

func loadPair(c Config) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("loading cert_file %q / key_file %q: %w", c.CertFile, c.KeyFile, err)
	}
	return cert, nil
}

func loadPool(key, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %q: no PEM certificate found", key, path)
	}
	return pool, nil
}
