package span

import "encoding/hex"

// TraceID is a 16-byte OpenTelemetry trace id. The zero value is invalid.
type TraceID [16]byte

// SpanID is an 8-byte OpenTelemetry span id. The zero value is invalid and
// means "no parent" when used as Span.Parent.
type SpanID [8]byte

// IsZero reports whether t is the invalid all-zero trace id.
func (t TraceID) IsZero() bool { return t == TraceID{} }

// IsZero reports whether s is the invalid all-zero span id.
func (s SpanID) IsZero() bool { return s == SpanID{} }

// String returns the 32-character lowercase hex form used by OTLP/JSON.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// String returns the 16-character lowercase hex form used by OTLP/JSON.
func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// Kind is the OTLP span kind; values equal the OTLP protobuf enum.
type Kind uint8

// Span kinds, numbered as in opentelemetry/proto/trace/v1 Span.SpanKind.
const (
	KindUnspecified Kind = 0
	KindInternal    Kind = 1
	KindServer      Kind = 2
	KindClient      Kind = 3
	KindProducer    Kind = 4
	KindConsumer    Kind = 5
)

// StatusCode is the OTLP status code; values equal the OTLP protobuf enum.
type StatusCode uint8

// Status codes, numbered as in opentelemetry/proto/trace/v1 Status.StatusCode.
const (
	StatusUnset StatusCode = 0
	StatusOK    StatusCode = 1
	StatusError StatusCode = 2
)

// Event is a timestamped annotation on a span (an OTLP Span.Event).
type Event struct {
	Time  int64 // Unix ns
	Name  string
	Attrs []Attr
}

// Link points from a span to a span in this or another trace.
type Link struct {
	TraceID TraceID
	SpanID  SpanID
	Attrs   []Attr
}

// Span is one OTLP span. Start and End are Unix nanoseconds.
type Span struct {
	TraceID       TraceID
	SpanID        SpanID
	Parent        SpanID // zero for a root span
	Name          string
	Kind          Kind
	Start, End    int64
	Attrs         []Attr
	Events        []Event
	Links         []Link
	Status        StatusCode
	StatusMessage string
}

// Resource describes the entity that produced a batch of spans (OTLP
// Resource). Batches of one trace file share one *Resource.
type Resource struct {
	Attrs []Attr
}

// Scope is the instrumentation scope (OTLP InstrumentationScope).
type Scope struct {
	Name    string
	Version string
}

// Batch is a set of spans sharing one resource and scope: one OTLP
// ResourceSpans holding one ScopeSpans. The converter emits one or more
// batches per trace; the exporter may split or merge batches to fit its size
// limits but never changes a span.
type Batch struct {
	Resource *Resource
	Scope    Scope
	Spans    []Span
}

// Len returns the number of spans in b.
func (b *Batch) Len() int { return len(b.Spans) }
