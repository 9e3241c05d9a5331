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
// message and no allocation. That wire path writes every message through
// one loop and a table of the message's fields made from the generated
// descriptors (JSON names and wire types), Span, KeyValue and AnyValue
// through their own functions.
//
// The reader (Unmarshal, ReadJSONLines, ReadStream) is protojson, the
// protobuf project's canonical JSON decoder, after the span and link ids
// are rewritten from hex to base64, and every request it returns has
// passed otlp.CheckIDs. It accepts what the writer writes and the usual
// liberties of other writers, as the receiver has always accepted them:
// lowerCamelCase or proto field names, unknown fields (ignored), 64-bit
// integers as numbers or strings, enums as integers or names, NaN and
// infinities as the strings "NaN", "Infinity" and "-Infinity", bytes in
// standard or URL-safe base64; with UnmarshalOptions.Base64IDs, ids in
// base64 too. Every decoding error matches otlp.ErrMalformed.
//
// The package never does I/O beyond the io.Reader it is given, and never
// changes a span.
package otlpjson
