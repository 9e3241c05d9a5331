package exporter

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc/credentials"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configtls"
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
	// Insecure, when true, disables TLS. False leaves it to the endpoint's
	// scheme and the OTEL_EXPORTER_OTLP_[TRACES_]INSECURE variables.
	Insecure bool `yaml:"insecure"`
	// TLS names the CA to verify the server with and the client
	// certificate and key (mTLS).
	TLS configtls.Config `yaml:"tls"`
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
		return &ConfigError{Component: "exporter", Key: "compression", Reason: fmt.Sprintf("%q is not gzip or none", o.Compression)}
	}
	if err := o.TLS.Validate(); err != nil {
		return &ConfigError{Component: "exporter", Key: "tls.cert_file", Reason: err.Error()}
	}
	if o.Timeout < 0 {
		return &ConfigError{Component: "exporter", Key: "timeout", Reason: "must not be negative"}
	}
	if o.Insecure && (o.TLS.CAFile != "" || o.TLS.CertFile != "") {
		return &ConfigError{Component: "exporter", Key: "insecure", Reason: "cannot be true together with tls.ca_file or tls.cert_file"}
	}
	return nil
}

func isURL(s string) bool { return strings.Contains(s, "://") }

// tlsConfig builds a TLS config from the file options, or nil when none
// is set.
func (o TransportOptions) tlsConfig() (*tls.Config, error) {
	cfg, err := o.TLS.Client()
	if err != nil {
		return nil, fmt.Errorf("exporter: tls: %w", err)
	}
	return cfg, nil
}

// OptionSet is how one OTel OTLP client package (otlptracegrpc,
// otlptracehttp, and the daemon's otlpmetricgrpc and otlpmetrichttp)
// spells the transport options they all have.
type OptionSet[O any] struct {
	EndpointURL, Endpoint func(string) O
	TLS                   func(*tls.Config) O
	Insecure              func() O
	Headers               func(map[string]string) O
	Timeout               func(time.Duration) O
}

// GRPCTLS is OptionSet.TLS for a gRPC client package, from its
// WithTLSCredentials.
func GRPCTLS[O any](withCredentials func(credentials.TransportCredentials) O) func(*tls.Config) O {
	return func(c *tls.Config) O { return withCredentials(credentials.NewTLS(c)) }
}

// AppendClientOptions appends to opts, in f's spelling, o's endpoint (a
// URL or host:port), tlsCfg (o's TLS files, loaded by the caller) or else
// o.Insecure, o's headers and timeout: only those that are set, so that
// the OTEL_EXPORTER_OTLP_* variables decide the rest. Compression is
// spelled differently by each package and left to the caller.
func AppendClientOptions[O any](opts []O, o TransportOptions, tlsCfg *tls.Config, f OptionSet[O]) []O {
	if o.Endpoint != "" {
		if isURL(o.Endpoint) {
			opts = append(opts, f.EndpointURL(o.Endpoint))
		} else {
			opts = append(opts, f.Endpoint(o.Endpoint))
		}
	}
	switch {
	case tlsCfg != nil:
		opts = append(opts, f.TLS(tlsCfg))
	case o.Insecure:
		opts = append(opts, f.Insecure())
	}
	if o.Headers != nil {
		opts = append(opts, f.Headers(o.Headers))
	}
	if o.Timeout > 0 {
		opts = append(opts, f.Timeout(o.Timeout))
	}
	return opts
}

// clientOptions is AppendClientOptions with o's TLS files loaded.
func clientOptions[O any](o TransportOptions, opts []O, f OptionSet[O]) ([]O, error) {
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	return AppendClientOptions(opts, o, tlsCfg, f), nil
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
	opts, err := clientOptions(o, []otlptracegrpc.Option{otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false})}, OptionSet[otlptracegrpc.Option]{
		EndpointURL: otlptracegrpc.WithEndpointURL,
		Endpoint:    otlptracegrpc.WithEndpoint,
		TLS:         GRPCTLS(otlptracegrpc.WithTLSCredentials),
		Insecure:    otlptracegrpc.WithInsecure,
		Headers:     otlptracegrpc.WithHeaders,
		Timeout:     otlptracegrpc.WithTimeout,
	})
	if err != nil {
		return nil, err
	}
	// otlptracegrpc knows only "gzip": any other name, "none" included,
	// means no compression but is reported as an invalid compressor on the
	// process's log. "none" is passed only where it must override an
	// OTEL_EXPORTER_OTLP_*COMPRESSION variable.
	switch {
	case o.Compression == "gzip":
		opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
	case o.Compression == "none" && envCompression(os.Getenv) != "":
		opts = append(opts, otlptracegrpc.WithCompressor("none"))
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
	opts, err := clientOptions(o.TransportOptions, []otlptracehttp.Option{otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false})}, OptionSet[otlptracehttp.Option]{
		EndpointURL: otlptracehttp.WithEndpointURL,
		Endpoint:    otlptracehttp.WithEndpoint,
		TLS:         otlptracehttp.WithTLSClientConfig,
		Insecure:    otlptracehttp.WithInsecure,
		Headers:     otlptracehttp.WithHeaders,
		Timeout:     otlptracehttp.WithTimeout,
	})
	if err != nil {
		return nil, err
	}
	switch o.Compression {
	case "gzip":
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	case "none":
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.NoCompression))
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

// envCompression returns OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, else
// OTEL_EXPORTER_OTLP_COMPRESSION.
func envCompression(getenv func(string) string) string {
	if v := getenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"); v != "" {
		return v
	}
	return getenv("OTEL_EXPORTER_OTLP_COMPRESSION")
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
