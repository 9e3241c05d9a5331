// Package otlp is the bridge's one OTLP trace codec. Everything that turns
// spans into OTLP bytes, or OTLP bytes into spans, lives under this
// directory, so the exporter, the receiver, the vLLM log reader and the
// tests all encode and decode the same way:
//
//   - otlp/otlpproto: protobuf. span.Batch to wire bytes written by hand
//     (AppendProto, SpanSize, Builder for size-capped request bodies,
//     SplitRequest), span.Batch to tracepb structs (ToProto), and the
//     decoders (Unmarshal for one request, ReadDelimited for the exporter's
//     length-delimited "*.pb" files).
//   - otlp/otlpjson: OTLP/JSON. The deterministic writer (AppendBatch,
//     AppendRequest), the protobuf-to-JSON transcoder (AppendProtoRequest)
//     and the decoders (Unmarshal for one request, ReadJSONLines and
//     ReadStream for files).
//   - this package: what both wire formats share, the checks every decoded
//     request passes (CheckIDs: ids of OTLP's lengths) and the error that
//     every decoding failure matches (ErrMalformed).
//
// The two encodings are separate packages because their callers rarely
// need both (the gRPC path never touches JSON; the transcoder's 800 lines
// are JSON only), and because each keeps the vocabulary of its format:
// otlpjson.Unmarshal and otlpproto.Unmarshal read the same message from
// the two encodings.
//
// Decoding is the canonical one: protobuf through proto.Unmarshal, and
// OTLP/JSON through protojson after the span and link ids, which OTLP/JSON
// writes as hex rather than base64, are rewritten. What the decoders accept
// is what the OpenTelemetry Collector's OTLP receiver accepts: lowerCamelCase
// or proto field names, unknown fields ignored, 64-bit integers as strings
// or numbers, enums as numbers or names.
//
// The packages never do I/O beyond the io.Reader they are given, never know
// Kineto or vLLM (what an llm_request span means, and which of its
// attributes may leave the host, is decided by linker/vllmlog), and never
// change a span: they encode what they are given and decode what they read.
package otlp
