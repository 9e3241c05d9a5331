// Package otlpjson writes and reads OTLP/JSON trace data exactly as the
// OTLP specification defines it, which is what the OpenTelemetry
// Collector's file exporter writes: lowerCamelCase field names, trace and
// span ids as lowercase hex, 64-bit integers as decimal strings, enums as
// integers, bytes values as base64, default values omitted, and one
// ExportTraceServiceRequest object per line (JSON lines).
//
// The writer is hand-written and deterministic (the same input always gives
// the same bytes, which golden files pin). It writes from tracepb structs,
// from span.Batch, or (AppendProtoRequest) straight from an encoded
// protobuf ExportTraceServiceRequest, with the same bytes for the same
// message and no allocation. The reader accepts what the
// writer writes and the usual liberties of other writers: 64-bit integers
// as numbers or strings, enums as integers or names, NaN and infinities as
// the strings "NaN", "Infinity" and "-Infinity".
//
// The package never does I/O beyond the io.Reader it is given, and never
// changes a span.
package otlpjson
