package otlp

import (
	"errors"
	"fmt"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

// ErrMalformed is matched (errors.Is) by every error about data that cannot
// be decoded or that breaks OTLP's rules (ids of the wrong length). Its text
// is what the receiver's senders read in their error answers.
var ErrMalformed = errors.New("malformed OTLP data")

// Id lengths in bytes (opentelemetry-proto, trace.proto).
const (
	TraceIDLen = 16
	SpanIDLen  = 8
)

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

// CheckIDs rejects spans and links whose ids do not have OTLP's lengths
// (trace id 16 bytes, span id 8 bytes, parent span id 0 or 8 bytes), with
// an *IDError naming the first such field. Such spans would be refused by
// every backend, so forwarding them would only turn the sender's mistake
// into an endless retry.
func CheckIDs(req *coltracepb.ExportTraceServiceRequest) error {
	for i, rs := range req.GetResourceSpans() {
		for j, ss := range rs.GetScopeSpans() {
			for k, sp := range ss.GetSpans() {
				if err := checkID(sp.GetTraceId(), TraceIDLen, false, i, j, k, -1, "traceId"); err != nil {
					return err
				}
				if err := checkID(sp.GetSpanId(), SpanIDLen, false, i, j, k, -1, "spanId"); err != nil {
					return err
				}
				if err := checkID(sp.GetParentSpanId(), SpanIDLen, true, i, j, k, -1, "parentSpanId"); err != nil {
					return err
				}
				for l, ln := range sp.GetLinks() {
					if err := checkID(ln.GetTraceId(), TraceIDLen, false, i, j, k, l, "traceId"); err != nil {
						return err
					}
					if err := checkID(ln.GetSpanId(), SpanIDLen, false, i, j, k, l, "spanId"); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// Checked returns req when its ids pass CheckIDs, and nil and the
// *IDError otherwise: the last step of every decoder.
func Checked(req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceRequest, error) {
	if err := CheckIDs(req); err != nil {
		return nil, err
	}
	return req, nil
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
