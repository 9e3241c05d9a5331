package exporter

import (
	"fmt"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/bytesize"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configerr"
)

// Config is the exporter's policy: how requests are cut, how many are in
// flight, and how failures are retried. Transport settings (endpoint, TLS,
// headers…) belong to the Client (SinkConfig), not here. The yaml keys are
// the user's, under the daemon's output section; fields tagged "-" are not
// user keys.
type Config struct {
	// MaxRequestBytes caps the encoded size of one OTLP request
	// (ExportTraceServiceRequest). Default 3 MiB, under the 4 MiB gRPC
	// receive limit of Jaeger's and Tempo's receivers. A single span larger
	// than this is sent alone, with a warning.
	MaxRequestBytes bytesize.ByteSize `yaml:"max_request_bytes"`
	// MaxInFlight is the number of requests being sent at once. Default 4.
	// The file client always gets 1: its writes are serial, and one sender
	// writes the requests in the order they were cut.
	MaxInFlight int `yaml:"max_in_flight"`
	// QueueSize is the number of complete requests waiting for a sender.
	// When it is full, Export blocks. Default 4; 0 (kept as 0 by New, unlike
	// the other fields) means a request waits only in the producer's hands.
	// Memory held by the
	// exporter is about (MaxInFlight + QueueSize + 1) × MaxRequestBytes.
	QueueSize int `yaml:"-"`
	// FlushInterval sends a partly filled request once it is this old, so
	// a trickle of spans (forwarded requests) is not held back. Default 1s.
	FlushInterval time.Duration `yaml:"-"`
	// Retry governs retries of transient failures.
	Retry RetryConfig `yaml:"retry"`
}

// RetryConfig is exponential backoff with ±50% jitter. A throttling hint
// from the server (gRPC RetryInfo, HTTP Retry-After) is honoured when it is
// longer than the backoff.
type RetryConfig struct {
	// InitialInterval is the wait after the first failure. Default 500ms.
	InitialInterval time.Duration `yaml:"initial_interval"`
	// MaxInterval caps the wait between attempts. Default 30s.
	MaxInterval time.Duration `yaml:"max_interval"`
	// MaxElapsedTime gives up on a request after this long, failing its
	// trackers. 0 (the default) retries until Shutdown's deadline: an outage
	// then only stalls the pipeline (backpressure), it loses nothing.
	MaxElapsedTime time.Duration `yaml:"max_elapsed_time"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		MaxRequestBytes: 3 << 20,
		MaxInFlight:     4,
		QueueSize:       4,
		FlushInterval:   time.Second,
		Retry: RetryConfig{
			InitialInterval: 500 * time.Millisecond,
			MaxInterval:     30 * time.Second,
			MaxElapsedTime:  0,
		},
	}
}

// Limits of Config values.
const (
	MinRequestBytes = 1 << 10
	MaxRequestBytes = 64 << 20
)

// ConfigError names the configuration key that is invalid (Component
// "exporter"; the type all components share).
type ConfigError = configerr.Error

// Validate checks every field and returns a *ConfigError naming the first
// bad key (as spelled in YAML).
func (c Config) Validate() error {
	switch {
	case c.MaxRequestBytes < MinRequestBytes || c.MaxRequestBytes > MaxRequestBytes:
		return &ConfigError{Component: "exporter", Key: "max_request_bytes", Reason: fmt.Sprintf("%d is outside [%d, %d]", c.MaxRequestBytes, MinRequestBytes, MaxRequestBytes)}
	case c.MaxInFlight < 1 || c.MaxInFlight > 256:
		return &ConfigError{Component: "exporter", Key: "max_in_flight", Reason: fmt.Sprintf("%d is outside [1, 256]", c.MaxInFlight)}
	case c.QueueSize < 0 || c.QueueSize > 1024:
		return &ConfigError{Component: "exporter", Key: "queue_size", Reason: fmt.Sprintf("%d is outside [0, 1024]", c.QueueSize)}
	case c.FlushInterval <= 0:
		return &ConfigError{Component: "exporter", Key: "flush_interval", Reason: "must be positive"}
	case c.Retry.InitialInterval <= 0:
		return &ConfigError{Component: "exporter", Key: "retry.initial_interval", Reason: "must be positive"}
	case c.Retry.MaxInterval < c.Retry.InitialInterval:
		return &ConfigError{Component: "exporter", Key: "retry.max_interval", Reason: "must be at least retry.initial_interval"}
	case c.Retry.MaxElapsedTime < 0:
		return &ConfigError{Component: "exporter", Key: "retry.max_elapsed_time", Reason: "must not be negative (0 means forever)"}
	}
	return nil
}
