package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpjson"
)

// FileClient writes OTLP/JSON lines, one ExportTraceServiceRequest per
// UploadTraces/UploadRequest, each with a single Write, to a file or an
// io.Writer. A file whose name ends in ".pb" (say out.otlp.pb) gets
// length-delimited protobuf instead: each request as its varint byte
// length followed by the encoded ExportTraceServiceRequest, as
// otlpproto.ReadDelimited reads. An upload is acknowledged once written to
// the OS; Stop syncs (fsync) a file and closes it if FileClient opened it.
type FileClient struct {
	mu        sync.Mutex
	w         io.Writer
	owned     *os.File // closed on Stop
	buf       []byte   // the line (or message) being written, reused
	name      string
	delimited bool // length-delimited protobuf, not OTLP/JSON
	failed    error
}

var (
	_ Client          = (*FileClient)(nil)
	_ RequestUploader = (*FileClient)(nil)
	_ serialClient    = (*FileClient)(nil)
)

// serial tells the Exporter to use one sender (see serialClient).
func (*FileClient) serial() {}

// NewFileClient appends to path, creating it (0644) if needed. A path
// ending in ".pb" gets length-delimited protobuf, any other OTLP/JSON lines.
func NewFileClient(path string) (*FileClient, error) {
	delimited := strings.HasSuffix(path, ".pb")
	what := "OTLP/JSON"
	if delimited {
		what = "OTLP protobuf"
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("exporter: opening %s output: %w", what, err)
	}
	return &FileClient{w: f, owned: f, name: path, delimited: delimited}, nil
}

// NewWriterClient writes to w; Stop syncs w if it is an *os.File but never
// closes it.
func NewWriterClient(w io.Writer) *FileClient {
	return &FileClient{w: w, name: fmt.Sprintf("%T", w)}
}

// Start does nothing.
func (*FileClient) Start(context.Context) error { return nil }

// Stop syncs and, for a file it opened, closes the output.
func (c *FileClient) Stop(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	if f, ok := c.w.(*os.File); ok {
		// Pipes and terminals cannot be synced; that is not a failure.
		if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
			errs = append(errs, fmt.Errorf("exporter: syncing %s: %w", c.name, err))
		}
	}
	if c.owned != nil {
		if err := c.owned.Close(); err != nil {
			errs = append(errs, fmt.Errorf("exporter: closing %s: %w", c.name, err))
		}
		c.owned = nil
	}
	return errors.Join(errs...)
}

// UploadTraces writes rs as one line (or one delimited message).
func (c *FileClient) UploadTraces(ctx context.Context, rs []*tracepb.ResourceSpans) error {
	if c.delimited {
		body, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: rs})
		if err != nil {
			return fmt.Errorf("exporter: encoding request: %w", err)
		}
		return c.UploadRequest(ctx, body)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(otlpjson.AppendRequest(c.buf[:0], rs), '\n')
	return c.write()
}

// UploadRequest writes an encoded request as one line, transcoding the
// protobuf bytes straight to OTLP/JSON (otlpjson.AppendProtoRequest): no
// tracepb structs are built, and the line buffer is reused. Delimited
// output writes the bytes as they are, after their length.
func (c *FileClient) UploadRequest(_ context.Context, body []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.delimited {
		c.buf = protowire.AppendVarint(c.buf[:0], uint64(len(body)))
		c.buf = append(c.buf, body...)
		return c.write()
	}
	// OTLP/JSON of our spans is about 1.8 times the protobuf; growing the
	// line buffer once, ahead, saves copying it as it grows.
	buf, err := otlpjson.AppendProtoRequest(slices.Grow(c.buf[:0], 2*len(body)+64), body)
	c.buf = buf
	if err != nil {
		return fmt.Errorf("exporter: decoding encoded request: %w", err)
	}
	c.buf = append(c.buf, '\n')
	return c.write()
}

func (c *FileClient) write() error {
	if c.failed != nil {
		// A short write left a partial line; refuse to append after it.
		return c.failed
	}
	n, err := c.w.Write(c.buf)
	if err != nil {
		err = fmt.Errorf("exporter: writing %s: %w", c.name, err)
		if n > 0 {
			c.failed = err
		}
		return err
	}
	return nil
}
