package exporter

import (
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
)

// errorCounter counts what the OTel SDK reports through its (process-wide)
// error handler.
type errorCounter struct {
	mu   sync.Mutex
	errs []error
}

func (c *errorCounter) Handle(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err)
}

// TestGRPCCompressionNoneIsQuiet: --compression none used to be passed to
// otlptracegrpc, which knows only gzip and reported "invalid compression
// type: 'none'" on the process's log for every client.
func TestGRPCCompressionNoneIsQuiet(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "")
	c := &errorCounter{}
	otel.SetErrorHandler(c)
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })
	for _, comp := range []string{"none", "gzip", ""} {
		if _, err := NewGRPCClient(TransportOptions{Endpoint: "127.0.0.1:1", Insecure: true, Compression: comp}); err != nil {
			t.Fatalf("compression %q: %v", comp, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) != 0 {
		t.Fatalf("the SDK reported %v", c.errs)
	}
}
