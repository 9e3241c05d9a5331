package otlpjson

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp"
)

// LineError says which line of a JSON-lines input failed.
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("otlpjson: line %d: %v", e.Line, e.Err) }

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

// UnmarshalOptions configures the decoder. The zero value decodes OTLP/JSON
// exactly as the OTLP specification defines it.
type UnmarshalOptions struct {
	// Base64IDs also accepts span and link ids written in base64, as the
	// canonical protobuf JSON mapping (protojson.Marshal of tracepb) writes
	// them, besides OTLP/JSON's hex. The two cannot be confused: a trace id
	// is 32 hex digits or 24 base64 characters, a span id 16 or 12.
	Base64IDs bool
}

// Unmarshal decodes one OTLP/JSON ExportTraceServiceRequest, as
// UnmarshalOptions{}.Unmarshal does.
func Unmarshal(b []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	return UnmarshalOptions{}.Unmarshal(b)
}

// jsonUnmarshal follows OTLP/JSON: unknown field names are ignored.
var jsonUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// Unmarshal decodes one OTLP/JSON ExportTraceServiceRequest and checks its
// ids (otlp.CheckIDs). OTLP/JSON differs from the canonical protobuf JSON
// mapping only in the trace and span id fields, which are hex strings
// rather than base64 (opentelemetry-proto, docs/specification.md, "JSON
// Protobuf Encoding"), so they are rewritten to base64 before protojson
// decodes the document. Every error matches otlp.ErrMalformed.
func (o UnmarshalOptions) Unmarshal(b []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	canon, err := hexIDsToBase64(b, o.Base64IDs)
	if err != nil {
		return nil, err
	}
	req := new(coltracepb.ExportTraceServiceRequest)
	if err := jsonUnmarshal.Unmarshal(canon, req); err != nil {
		return nil, fmt.Errorf("%w: json: %w", otlp.ErrMalformed, err)
	}
	return otlp.Checked(req)
}

// ReadJSONLines decodes r as JSON lines, one ExportTraceServiceRequest per
// line (what the Collector's file exporter and this package's writer
// write), calling fn for each in order. Blank lines are skipped; a line may
// be of any length. It stops at the first error from decoding (a
// *LineError matching otlp.ErrMalformed) or from fn (returned as is), and
// returns nil at EOF.
func ReadJSONLines(r io.Reader, fn func(*coltracepb.ExportTraceServiceRequest) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var line []byte
	for n := 1; ; n++ {
		line = line[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			line = append(line, chunk...)
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("otlpjson: reading line %d: %w", n, err)
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			req, derr := Unmarshal(t)
			if derr != nil {
				return &LineError{Line: n, Err: derr}
			}
			if ferr := fn(req); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return nil
		}
	}
}

// ReadStream decodes r as a sequence of ExportTraceServiceRequest JSON
// documents separated by optional whitespace: JSON lines, one pretty-printed
// document, or documents written one after another. It calls fn for each
// in order, stops at the first error from reading or decoding (matching
// otlp.ErrMalformed and naming the document, counted from 0) or from fn
// (returned as is), and returns nil at EOF.
func (o UnmarshalOptions) ReadStream(r io.Reader, fn func(*coltracepb.ExportTraceServiceRequest) error) error {
	dec := jsontext.NewDecoder(r)
	for n := 0; ; n++ {
		v, err := dec.ReadValue()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("otlpjson: document %d: %w: json: %w", n, otlp.ErrMalformed, err)
		}
		req, err := o.Unmarshal(v)
		if err != nil {
			return fmt.Errorf("otlpjson: document %d: %w", n, err)
		}
		if err := fn(req); err != nil {
			return err
		}
	}
}

// isIDField reports whether an object member name is one of the OTLP id
// fields that OTLP/JSON writes in hex, in its JSON or its proto spelling.
func isIDField(name string) bool {
	switch name {
	case "traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id":
		return true
	}
	return false
}

// idPath reports whether a member named name in an object at depth is an id
// field of a Span (depth 7) or a Span.Link (depth 9), given the member names
// that lead there: names[d] is the member being read in the object at depth
// d. The layout is
//
//	{resourceSpans:[{scopeSpans:[{spans:[{traceId,…,links:[{traceId,…}]}]}]}]}
//	1             2 3          4 5     6 7                8 9
func idPath(names *[10]string, depth int, name string) bool {
	if depth != 7 && depth != 9 {
		return false
	}
	if !oneOf(names[1], "resourceSpans", "resource_spans") || !oneOf(names[3], "scopeSpans", "scope_spans") || names[5] != "spans" {
		return false
	}
	if depth == 7 {
		return isIDField(name)
	}
	return names[7] == "links" && oneOf(name, "traceId", "trace_id", "spanId", "span_id")
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// isBase64ID reports whether an id string has the length of a span or trace
// id in padded base64 (hex ids of those lengths would have 6 or 12 bytes,
// which CheckIDs refuses anyway).
func isBase64ID(s []byte) bool {
	return len(s) == base64.StdEncoding.EncodedLen(otlp.SpanIDLen) || len(s) == base64.StdEncoding.EncodedLen(otlp.TraceIDLen)
}

// hexIDsToBase64 returns b with the string value of every Span and
// Span.Link id member converted from hex to base64; everything else is
// copied byte for byte. It returns b itself when there was nothing to
// convert. Members with id names elsewhere (in fields unknown to this
// build, which protojson then ignores) are left alone, and so are ids that
// are already base64 when keepBase64 is set.
func hexIDsToBase64(b []byte, keepBase64 bool) ([]byte, error) {
	dec := jsontext.NewDecoder(bytes.NewBuffer(b))
	var out []byte
	last := 0
	var names [10]string // names[d]: member being read at depth d
	var raw [64]byte
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: json: %w", otlp.ErrMalformed, err)
		}
		if tok.Kind() != '"' {
			continue
		}
		// Member names on the way to an id are at odd depths up to 9; skip
		// everything else (attributes and events are most of the document)
		// without materialising the string.
		depth := dec.StackDepth()
		if depth > 9 || depth%2 == 0 || (depth == 9 && names[7] != "links") {
			continue
		}
		kind, n := dec.StackIndex(depth)
		if kind != '{' || n%2 != 1 {
			continue // a string value, not a member name
		}
		name := tok.String()
		names[depth] = name
		if !idPath(&names, depth, name) || dec.PeekKind() != '"' {
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return nil, fmt.Errorf("%w: json: %w", otlp.ErrMalformed, err)
		}
		end := int(dec.InputOffset())
		start := end - len(v)
		s, err := jsontext.AppendUnquote(raw[:0], v)
		if err != nil {
			return nil, fmt.Errorf("%w: json %s: %w", otlp.ErrMalformed, dec.StackPointer(), err)
		}
		if keepBase64 && isBase64ID(s) {
			continue // copied as is with the next run
		}
		if len(s)%2 != 0 || len(s)/2 > 32 {
			return nil, fmt.Errorf("%w: json %s: %d hex digits", otlp.ErrMalformed, dec.StackPointer(), len(s))
		}
		var id [32]byte
		nb, err := hex.Decode(id[:], s)
		if err != nil {
			return nil, fmt.Errorf("%w: json %s: not hex: %w", otlp.ErrMalformed, dec.StackPointer(), err)
		}
		if out == nil {
			out = make([]byte, 0, len(b))
		}
		out = append(out, b[last:start]...)
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, id[:nb])
		out = append(out, '"')
		last = end
	}
	if out == nil {
		return b, nil
	}
	return append(out, b[last:]...), nil
}
