// Package otlpproto encodes span.Batch values as OTLP protobuf, both as wire
// bytes written directly with protowire (the fast path: no intermediate
// structs, no allocation beyond growing the caller's buffer) and as
// go.opentelemetry.io/proto/otlp structs (for APIs that take tracepb).
//
// The wire bytes are exactly what proto.Marshal produces for the equivalent
// tracepb message (fields in field-number order, proto3 defaults omitted,
// oneof members always written); the tests prove it.
//
// It also offers Builder, which packs spans from many batches into OTLP
// ExportTraceServiceRequest bodies that never exceed a byte limit, and the
// protobuf readers: Unmarshal (proto.Unmarshal, then otlp.CheckIDs) and
// ReadDelimited (the exporter's length-delimited "*.pb" files).
//
// The package never does I/O beyond the io.Reader it is given, never knows
// Kineto or vLLM, and never changes a span: it only encodes what it is
// given and decodes what it reads.
package otlpproto
