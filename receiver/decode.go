package receiver

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// decodeProto decodes an OTLP ExportTraceServiceRequest in protobuf wire
// format and checks it (see checkIDs). Unknown fields are kept, so they are
// forwarded as received.
func decodeProto(b []byte) (*collectortrace.ExportTraceServiceRequest, error) {
	req := new(collectortrace.ExportTraceServiceRequest)
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, fmt.Errorf("%w: protobuf: %w", ErrMalformed, err)
	}
	if err := checkIDs(req); err != nil {
		return nil, err
	}
	return req, nil
}

// jsonUnmarshal follows OTLP/JSON: unknown field names are ignored.
var jsonUnmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// decodeJSON decodes an OTLP/JSON ExportTraceServiceRequest and checks it.
// OTLP/JSON differs from the canonical protobuf JSON mapping only in the
// trace and span id fields, which are hex strings rather than base64
// (opentelemetry-proto, docs/specification.md, "JSON Protobuf Encoding"), so
// they are rewritten to base64 before protojson decodes the document.
func decodeJSON(b []byte) (*collectortrace.ExportTraceServiceRequest, error) {
	canon, err := hexIDsToBase64(b)
	if err != nil {
		return nil, err
	}
	req := new(collectortrace.ExportTraceServiceRequest)
	if err := jsonUnmarshal.Unmarshal(canon, req); err != nil {
		return nil, fmt.Errorf("%w: json: %w", ErrMalformed, err)
	}
	if err := checkIDs(req); err != nil {
		return nil, err
	}
	return req, nil
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

// hexIDsToBase64 returns b with the string value of every Span and
// Span.Link id member converted from hex to base64; everything else is
// copied byte for byte. It returns b itself when there was nothing to
// convert. Members with id names elsewhere (in fields unknown to this
// build, which protojson then ignores) are left alone.
func hexIDsToBase64(b []byte) ([]byte, error) {
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
			return nil, fmt.Errorf("%w: json: %w", ErrMalformed, err)
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
			return nil, fmt.Errorf("%w: json: %w", ErrMalformed, err)
		}
		end := int(dec.InputOffset())
		start := end - len(v)
		s, err := jsontext.AppendUnquote(raw[:0], v)
		if err != nil {
			return nil, fmt.Errorf("%w: json %s: %w", ErrMalformed, dec.StackPointer(), err)
		}
		if len(s)%2 != 0 || len(s)/2 > 32 {
			return nil, fmt.Errorf("%w: json %s: %d hex digits", ErrMalformed, dec.StackPointer(), len(s))
		}
		var id [32]byte
		nb, err := hex.Decode(id[:], s)
		if err != nil {
			return nil, fmt.Errorf("%w: json %s: not hex: %w", ErrMalformed, dec.StackPointer(), err)
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

// IDError reports an id field of the wrong length. It wraps ErrMalformed.
type IDError struct {
	Field string // e.g. "resourceSpans[0].scopeSpans[1].spans[2].traceId"
	Len   int    // bytes received
}

func (e *IDError) Error() string {
	return fmt.Sprintf("%v: %s has %d bytes", ErrMalformed, e.Field, e.Len)
}

// Unwrap makes errors.Is(err, ErrMalformed) true.
func (e *IDError) Unwrap() error { return ErrMalformed }

// checkIDs rejects spans and links whose ids do not have OTLP's lengths
// (trace id 16 bytes, span id 8 bytes, parent span id 0 or 8 bytes). Such
// spans would be refused by every backend, so forwarding them would only turn
// the sender's mistake into an endless retry.
func checkIDs(req *collectortrace.ExportTraceServiceRequest) error {
	for i, rs := range req.GetResourceSpans() {
		for j, ss := range rs.GetScopeSpans() {
			for k, sp := range ss.GetSpans() {
				if err := checkID(sp.GetTraceId(), 16, false, i, j, k, -1, "traceId"); err != nil {
					return err
				}
				if err := checkID(sp.GetSpanId(), 8, false, i, j, k, -1, "spanId"); err != nil {
					return err
				}
				if err := checkID(sp.GetParentSpanId(), 8, true, i, j, k, -1, "parentSpanId"); err != nil {
					return err
				}
				for l, ln := range sp.GetLinks() {
					if err := checkID(ln.GetTraceId(), 16, false, i, j, k, l, "traceId"); err != nil {
						return err
					}
					if err := checkID(ln.GetSpanId(), 8, false, i, j, k, l, "spanId"); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func checkID(id []byte, want int, emptyOK bool, i, j, k, l int, name string) error {
	if len(id) == want || (emptyOK && len(id) == 0) {
		return nil
	}
	field := fmt.Sprintf("resourceSpans[%d].scopeSpans[%d].spans[%d]", i, j, k)
	if l >= 0 {
		field += fmt.Sprintf(".links[%d]", l)
	}
	return &IDError{Field: field + "." + name, Len: len(id)}
}
