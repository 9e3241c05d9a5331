package receiver

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/bytesize"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configtls"
)

// Defaults.
const (
	// DefaultGRPCAddr is OTLP/gRPC's well-known port, on loopback only.
	DefaultGRPCAddr = "127.0.0.1:4317"
	// DefaultHTTPAddr is OTLP/HTTP's well-known port, on loopback only.
	DefaultHTTPAddr = "127.0.0.1:4318"
	// DefaultMaxRecvMessageBytes bounds one request's uncompressed body.
	DefaultMaxRecvMessageBytes = 16 << 20
	// DefaultMaxPendingBytes bounds request bodies held between reading and
	// the Consumer's acknowledgement, summed over all requests in flight.
	// Decoded spans take about 5-6 times their protobuf size (measured on
	// vLLM's llm_request spans), so this allows roughly 200 MB of requests in
	// flight at worst.
	DefaultMaxPendingBytes = 32 << 20
	// DefaultRetryAfter is the delay suggested to refused senders.
	DefaultRetryAfter = time.Second
)

// HTTPTracesPath is the OTLP/HTTP traces path the HTTP listener serves.
const HTTPTracesPath = "/v1/traces"

// Config configures a Receiver. The zero value is not useful; start from
// DefaultConfig. The yaml keys are the user's, under the daemon's receiver
// section (receiver.grpc, receiver.tls.cert_file…); ConfigError.Key names
// them the same way.
type Config struct {
	// GRPCAddr is the host:port of the OTLP/gRPC listener; empty turns it
	// off. Port 0 picks a free port (see Receiver.Addrs).
	GRPCAddr string `yaml:"grpc"`
	// HTTPAddr is the host:port of the OTLP/HTTP listener (POST /v1/traces);
	// empty turns it off.
	HTTPAddr string `yaml:"http"`
	// TLS, when any file is named, makes both listeners TLS-only (and
	// mTLS-only when ClientCAFile is set). CAFile is a client's and is not
	// used here.
	TLS TLSConfig `yaml:"tls"`
	// MaxRecvMessageBytes bounds one request's uncompressed body (protobuf
	// message or JSON document). Larger requests are refused as too large.
	MaxRecvMessageBytes bytesize.ByteSize `yaml:"max_message_bytes"`
	// MaxPendingBytes bounds the uncompressed request bodies read but not yet
	// acknowledged by the Consumer, over all requests in flight on both
	// listeners. A request that would exceed it is refused as retryable. It
	// must be at least MaxRecvMessageBytes. Memory held by requests in
	// flight is up to about 6 times this (decoded protobuf) plus the
	// Consumer's own buffers.
	MaxPendingBytes bytesize.ByteSize `yaml:"max_pending_bytes"`
	// RetryAfter is the delay suggested to senders refused for overload or
	// for a Consumer failure (gRPC RetryInfo; HTTP Retry-After, rounded up to
	// whole seconds). Not a user key.
	RetryAfter time.Duration `yaml:"-"`
}

// TLSConfig names the PEM files of the listeners' certificate; they are
// read once, by New.
type TLSConfig = configtls.Config

// DefaultConfig returns the defaults: both listeners on loopback at the
// OTLP ports, no TLS, 16 MiB per request, 32 MiB pending, retry after 1 s.
func DefaultConfig() Config {
	return Config{
		GRPCAddr:            DefaultGRPCAddr,
		HTTPAddr:            DefaultHTTPAddr,
		MaxRecvMessageBytes: DefaultMaxRecvMessageBytes,
		MaxPendingBytes:     DefaultMaxPendingBytes,
		RetryAfter:          DefaultRetryAfter,
	}
}

// Enabled reports whether at least one listener is configured.
func (c Config) Enabled() bool { return c.GRPCAddr != "" || c.HTTPAddr != "" }

// maxGRPCMessage is the largest size gRPC's int option can take safely.
const maxGRPCMessage = 1<<31 - 1

// Validate checks c and returns a *ConfigError naming the first bad key. A
// config with both listeners off is valid (the receiver is disabled; see
// Enabled) but New refuses it.
func (c Config) Validate() error {
	for _, a := range []struct{ key, addr string }{{"grpc", c.GRPCAddr}, {"http", c.HTTPAddr}} {
		if a.addr == "" {
			continue
		}
		if err := checkAddr(a.addr); err != nil {
			return &ConfigError{Component: "receiver", Key: a.key, Reason: err.Error()}
		}
	}
	if c.GRPCAddr != "" && c.GRPCAddr == c.HTTPAddr {
		if _, port, _ := net.SplitHostPort(c.GRPCAddr); port != "0" {
			return &ConfigError{Component: "receiver", Key: "http", Reason: "same address as grpc " + strconv.Quote(c.GRPCAddr)}
		}
	}
	switch {
	case c.MaxRecvMessageBytes <= 0:
		return &ConfigError{Component: "receiver", Key: "max_message_bytes", Reason: "must be positive"}
	case c.MaxRecvMessageBytes > maxGRPCMessage:
		return &ConfigError{Component: "receiver", Key: "max_message_bytes", Reason: fmt.Sprintf("must be at most %d", maxGRPCMessage)}
	case c.MaxPendingBytes < c.MaxRecvMessageBytes:
		return &ConfigError{Component: "receiver", Key: "max_pending_bytes", Reason: fmt.Sprintf("%d is less than max_message_bytes (%d): a request of the largest allowed size could never be accepted", c.MaxPendingBytes, c.MaxRecvMessageBytes)}
	case c.RetryAfter <= 0:
		return &ConfigError{Component: "receiver", Key: "retry_after", Reason: "must be positive"}
	case c.RetryAfter > time.Hour:
		return &ConfigError{Component: "receiver", Key: "retry_after", Reason: "must be at most 1h"}
	}
	if !c.TLS.IsZero() {
		switch {
		case c.TLS.CertFile == "":
			return &ConfigError{Component: "receiver", Key: "tls.cert_file", Reason: "required when tls is set"}
		case c.TLS.KeyFile == "":
			return &ConfigError{Component: "receiver", Key: "tls.key_file", Reason: "required when tls is set"}
		}
	}
	return nil
}

func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("not host:port: %w", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// isLoopback reports whether addr's host is a loopback name or address. An
// empty host (all interfaces) is not loopback.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
