package otlpproto

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp"
)

// Unmarshal decodes one ExportTraceServiceRequest in protobuf wire format
// and checks its ids (otlp.CheckIDs). Unknown fields are kept, so a
// request forwarded after decoding carries them on. Every error matches
// otlp.ErrMalformed.
func Unmarshal(b []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	req := new(coltracepb.ExportTraceServiceRequest)
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, fmt.Errorf("%w: protobuf: %w", otlp.ErrMalformed, err)
	}
	return otlp.Checked(req)
}

// MaxDelimitedMessage is the largest message ReadDelimited accepts, so a
// corrupt length cannot make it allocate without bound.
const MaxDelimitedMessage = 1 << 30

// ErrDelimited is matched (errors.Is) by every error about a malformed
// length-delimited protobuf input.
var ErrDelimited = errors.New("otlpproto: malformed length-delimited OTLP protobuf")

// ReadDelimited decodes r as length-delimited protobuf (what the exporter's
// file client writes to a "*.pb" file): each ExportTraceServiceRequest is
// its byte length as a varint followed by the encoded message. fn is called
// for each in order. It stops at the first error, from reading or decoding
// (wrapping ErrDelimited, or io.ErrUnexpectedEOF for a message cut short)
// or from fn (returned as is), and returns nil at a clean EOF. Messages
// are decoded and checked by Unmarshal.
func ReadDelimited(r io.Reader, fn func(*coltracepb.ExportTraceServiceRequest) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var buf []byte
	for n := 1; ; n++ {
		size, err := readLength(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("otlpproto: message %d: reading length: %w", n, err)
		}
		if size > MaxDelimitedMessage {
			return fmt.Errorf("otlpproto: message %d: %d bytes, more than %d: %w", n, size, MaxDelimitedMessage, ErrDelimited)
		}
		if uint64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(br, buf); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("otlpproto: message %d: %w", n, err)
		}
		req, err := Unmarshal(buf)
		if err != nil {
			return fmt.Errorf("otlpproto: message %d: %w", n, errors.Join(ErrDelimited, err))
		}
		if err := fn(req); err != nil {
			return err
		}
	}
}

// readLength reads a varint: io.EOF before its first byte,
// io.ErrUnexpectedEOF within it.
func readLength(br *bufio.Reader) (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, err := br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) && shift > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if shift == 63 && c > 1 {
			break
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("varint length overflows 64 bits: %w", ErrDelimited)
}
