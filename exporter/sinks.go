package exporter

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// Protocols a sink may use (SinkConfig.Protocol).
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolHTTPJSON     = "http/json"
	ProtocolFile         = "file"    // OTLP/JSON lines to SinkConfig.Path ("-" is stdout); length-delimited protobuf if it ends in ".pb"
	ProtocolDiscard      = "discard" // count and drop (benchmarks, dry runs)
)

// SinkConfig chooses and configures one Client.
type SinkConfig struct {
	// Protocol is one of the Protocol constants. Empty means the
	// OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL variable, else http/protobuf
	// (the OpenTelemetry default).
	Protocol  string           `yaml:"protocol"`
	Transport TransportOptions `yaml:",inline"`
	// Path is the output of the file protocol: OTLP/JSON lines, or
	// length-delimited OTLP protobuf if it ends in ".pb".
	Path string `yaml:"path"`
}

// Builder makes a Client from a SinkConfig.
type Builder func(SinkConfig) (Client, error)

// Sinks lists every sink by protocol. Callers (and tests) may copy and
// replace entries to reach error paths.
func Sinks() map[string]Builder {
	return map[string]Builder{
		ProtocolGRPC: func(c SinkConfig) (Client, error) { return NewGRPCClient(c.Transport) },
		ProtocolHTTPProtobuf: func(c SinkConfig) (Client, error) {
			f := false
			return NewHTTPClient(HTTPOptions{TransportOptions: c.Transport, JSON: &f})
		},
		ProtocolHTTPJSON: func(c SinkConfig) (Client, error) {
			t := true
			return NewHTTPClient(HTTPOptions{TransportOptions: c.Transport, JSON: &t})
		},
		ProtocolFile: func(c SinkConfig) (Client, error) {
			if c.Path == "" {
				return nil, &ConfigError{"path", "the file protocol needs a path"}
			}
			if c.Path == "-" {
				return NewWriterClient(os.Stdout), nil
			}
			return NewFileClient(c.Path)
		},
		ProtocolDiscard: func(SinkConfig) (Client, error) { return &DiscardClient{}, nil },
	}
}

// NewClientFor builds the Client c asks for, from sinks (nil means
// Sinks()). getenv reads the protocol variables (nil means os.Getenv).
func NewClientFor(c SinkConfig, sinks map[string]Builder, getenv func(string) string) (Client, error) {
	if sinks == nil {
		sinks = Sinks()
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	p := c.Protocol
	if p == "" {
		p = envProtocol(getenv)
	}
	if p == "" {
		p = ProtocolHTTPProtobuf
	}
	b, ok := sinks[p]
	if !ok {
		names := make([]string, 0, len(sinks))
		for k := range sinks {
			names = append(names, k)
		}
		slices.Sort(names)
		return nil, &ConfigError{"protocol", fmt.Sprintf("%q is not one of %s", p, strings.Join(names, ", "))}
	}
	cl, err := b(c)
	if err != nil {
		return nil, fmt.Errorf("exporter: building %s sink: %w", p, err)
	}
	return cl, nil
}
