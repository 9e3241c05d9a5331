package exporter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc/credentials"
)

// TransportOptions are the settings of an OTLP gRPC or HTTP client. Every
// field is optional: an unset field (zero value, nil pointer) is not passed
// to the OTel client, so the standard OTEL_EXPORTER_OTLP_* and
// OTEL_EXPORTER_OTLP_TRACES_* variables (see the package documentation)
// decide it, and failing those the OTel client's default. A set field wins
// over the environment.
type TransportOptions struct {
	// Endpoint is a URL ("http://host:4317", "https://host:4318/v1/traces")
	// or host:port. A URL's scheme also sets Insecure (http) or not (https).
	// For HTTP a URL's path is used as is; host:port uses /v1/traces.
	Endpoint string `yaml:"endpoint"`
	// Insecure disables TLS when true, forces TLS when false.
	Insecure *bool `yaml:"insecure"`
	// CAFile is a PEM file of CAs to verify the server with.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and key (mTLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Headers are sent with every request (gRPC metadata / HTTP headers).
	// Their values are never logged.
	Headers map[string]string `yaml:"headers"`
	// Compression is "gzip" or "none".
	Compression string `yaml:"compression"`
	// Timeout bounds one attempt (the OTel default is 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// Validate checks the set fields and names the bad key.
func (o TransportOptions) Validate() error {
	switch o.Compression {
	case "", "gzip", "none":
	default:
		return &ConfigError{"compression", fmt.Sprintf("%q is not gzip or none", o.Compression)}
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return &ConfigError{"cert_file", "cert_file and key_file must be set together"}
	}
	if o.Timeout < 0 {
		return &ConfigError{"timeout", "must not be negative"}
	}
	if o.Insecure != nil && *o.Insecure && (o.CAFile != "" || o.CertFile != "") {
		return &ConfigError{"insecure", "cannot be true together with ca_file or cert_file"}
	}
	return nil
}

func isURL(s string) bool { return strings.Contains(s, "://") }

// tlsConfig builds a TLS config from the file options, or nil when none
// is set.
func (o TransportOptions) tlsConfig() (*tls.Config, error) {
	if o.CAFile == "" && o.CertFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("exporter: reading ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &ConfigError{"ca_file", fmt.Sprintf("%s holds no PEM certificate", o.CAFile)}
		}
		cfg.RootCAs = pool
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("exporter: loading cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// GRPCClient is an OTLP/gRPC client built on otlptracegrpc. Its own retry
// is off: the Exporter retries.
type GRPCClient struct {
	otlptrace.Client
}

var (
	_ Client          = (*GRPCClient)(nil)
	_ RequestUploader = (*GRPCClient)(nil)
)

// NewGRPCClient builds a gRPC client from the options that are set.
func NewGRPCClient(o TransportOptions) (*GRPCClient, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false})}
	if o.Endpoint != "" {
		if isURL(o.Endpoint) {
			opts = append(opts, otlptracegrpc.WithEndpointURL(o.Endpoint))
		} else {
			opts = append(opts, otlptracegrpc.WithEndpoint(o.Endpoint))
		}
	}
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	switch {
	case tlsCfg != nil:
		opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
	case o.Insecure != nil && *o.Insecure:
		opts = append(opts, otlptracegrpc.WithInsecure())
	case o.Insecure != nil:
		opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})))
	}
	if o.Headers != nil {
		opts = append(opts, otlptracegrpc.WithHeaders(o.Headers))
	}
	if o.Compression != "" {
		opts = append(opts, otlptracegrpc.WithCompressor(o.Compression))
	}
	if o.Timeout > 0 {
		opts = append(opts, otlptracegrpc.WithTimeout(o.Timeout))
	}
	return &GRPCClient{otlptracegrpc.NewClient(opts...)}, nil
}

// UploadRequest sends an encoded request without decoding it.
func (c *GRPCClient) UploadRequest(ctx context.Context, body []byte) error {
	rs, err := wrapEncoded(body)
	if err != nil {
		return err
	}
	return c.UploadTraces(ctx, rs)
}

// HTTPClient is an OTLP/HTTP client built on otlptracehttp. Its own retry
// is off: the Exporter retries.
type HTTPClient struct {
	otlptrace.Client
	json bool
}

var (
	_ Client          = (*HTTPClient)(nil)
	_ RequestUploader = (*HTTPClient)(nil)
)

// HTTPOptions adds HTTP-only settings to TransportOptions.
type HTTPOptions struct {
	TransportOptions `yaml:",inline"`
	// JSON sends OTLP/JSON instead of protobuf when set; unset, the
	// OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL variable decides (http/json).
	JSON *bool `yaml:"json"`
	// Getenv reads the protocol variables; nil means os.Getenv. (The OTel
	// client itself always reads the process environment.)
	Getenv func(string) string `yaml:"-"`
}

// NewHTTPClient builds an HTTP client from the options that are set.
func NewHTTPClient(o HTTPOptions) (*HTTPClient, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false})}
	if o.Endpoint != "" {
		if isURL(o.Endpoint) {
			opts = append(opts, otlptracehttp.WithEndpointURL(o.Endpoint))
		} else {
			opts = append(opts, otlptracehttp.WithEndpoint(o.Endpoint))
		}
	}
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	switch {
	case tlsCfg != nil:
		opts = append(opts, otlptracehttp.WithTLSClientConfig(tlsCfg))
	case o.Insecure != nil && *o.Insecure:
		opts = append(opts, otlptracehttp.WithInsecure())
	case o.Insecure != nil:
		opts = append(opts, otlptracehttp.WithTLSClientConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	if o.Headers != nil {
		opts = append(opts, otlptracehttp.WithHeaders(o.Headers))
	}
	switch o.Compression {
	case "gzip":
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	case "none":
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.NoCompression))
	}
	if o.Timeout > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(o.Timeout))
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	useJSON := envProtocol(getenv) == "http/json"
	if o.JSON != nil {
		useJSON = *o.JSON
		enc := otlptracehttp.EncodingProtobuf
		if useJSON {
			enc = otlptracehttp.EncodingJSON
		}
		opts = append(opts, otlptracehttp.WithEncoding(enc))
	}
	return &HTTPClient{Client: otlptracehttp.NewClient(opts...), json: useJSON}, nil
}

// envProtocol returns OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
// OTEL_EXPORTER_OTLP_PROTOCOL.
func envProtocol(getenv func(string) string) string {
	if v := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")); v != "" {
		return v
	}
	return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
}

// UploadRequest sends an encoded request. With protobuf encoding the bytes
// go out as they are; with JSON they are decoded to tracepb first (the
// fast path would lose them: JSON encoders skip unknown fields).
func (c *HTTPClient) UploadRequest(ctx context.Context, body []byte) error {
	var rs []*tracepb.ResourceSpans
	var err error
	if c.json {
		rs, err = unmarshalRequest(body)
	} else {
		rs, err = wrapEncoded(body)
	}
	if err != nil {
		return err
	}
	return c.UploadTraces(ctx, rs)
}
