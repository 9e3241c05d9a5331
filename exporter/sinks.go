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

// ProtocolHTTP is the short name users may give http/protobuf.
const ProtocolHTTP = "http"

// SinkConfig chooses and configures one Client. The yaml keys are the
// user's, under the daemon's output section. ResolveProtocol is the one
// place a protocol is defaulted.
type SinkConfig struct {
	// Protocol is one of the Protocol constants or ProtocolHTTP. Empty
	// means the OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL variable, else gRPC.
	Protocol  string           `yaml:"protocol"`
	Transport TransportOptions `yaml:",inline"`
	// Path is the output of the file protocol: OTLP/JSON lines, or
	// length-delimited OTLP protobuf if it ends in ".pb". Set, it selects
	// the file protocol whatever Protocol says.
	Path string `yaml:"file"`
}

// Validate checks the protocol name and the transport options and names
// the bad key.
func (c SinkConfig) Validate() error {
	switch c.Protocol {
	case "", ProtocolGRPC, ProtocolHTTP, ProtocolHTTPProtobuf, ProtocolHTTPJSON, ProtocolFile, ProtocolDiscard:
	default:
		return &ConfigError{Component: "exporter", Key: "protocol", Reason: fmt.Sprintf("%q is not grpc, http (http/protobuf) or http/json", c.Protocol)}
	}
	return c.Transport.Validate()
}

// ResolveProtocol returns the protocol c selects: the file protocol when
// Path is set, else Protocol ("http" meaning http/protobuf), else
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL (read
// with getenv; nil means os.Getenv), else gRPC.
func (c SinkConfig) ResolveProtocol(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	p := c.Protocol
	switch {
	case c.Path != "":
		p = ProtocolFile
	case p == ProtocolHTTP:
		p = ProtocolHTTPProtobuf
	case p == "":
		p = envProtocol(getenv)
	}
	if p == "" {
		p = ProtocolGRPC
	}
	return p
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
				return nil, &ConfigError{Component: "exporter", Key: "path", Reason: "the file protocol needs a path"}
			}
			if c.Path == "-" {
				return NewWriterClient(os.Stdout), nil
			}
			return NewFileClient(c.Path)
		},
		ProtocolDiscard: func(SinkConfig) (Client, error) { return &DiscardClient{}, nil },
	}
}

// NewClientFor builds the Client c asks for (see ResolveProtocol), from
// sinks (nil means Sinks()). getenv reads the protocol variables (nil means
// os.Getenv).
func NewClientFor(c SinkConfig, sinks map[string]Builder, getenv func(string) string) (Client, error) {
	if sinks == nil {
		sinks = Sinks()
	}
	p := c.ResolveProtocol(getenv)
	b, ok := sinks[p]
	if !ok {
		names := make([]string, 0, len(sinks))
		for k := range sinks {
			names = append(names, k)
		}
		slices.Sort(names)
		return nil, &ConfigError{Component: "exporter", Key: "protocol", Reason: fmt.Sprintf("%q is not one of %s", p, strings.Join(names, ", "))}
	}
	cl, err := b(c)
	if err != nil {
		return nil, fmt.Errorf("exporter: building %s sink: %w", p, err)
	}
	return cl, nil
}
