// Package exporter ships span batches to an OTLP backend (Jaeger, Grafana
// Tempo, an OpenTelemetry Collector) over gRPC or HTTP, or writes them as
// OTLP/JSON lines, and reports when each unit of work has been
// acknowledged.
//
// It never knows Kineto or vLLM, never builds or changes spans, and never
// drops data silently: every span reaches the backend or fails the Tracker
// it was exported with, and every failure is counted in Stats and logged.
// Header values are never logged.
//
// # Shape
//
// Transport is separate from policy, as in the OpenTelemetry Go SDK's
// otlptrace package. A Client (Start, Stop, UploadTraces) moves one
// request; NewGRPCClient and NewHTTPClient wrap otlptracegrpc and
// otlptracehttp, NewFileClient/NewWriterClient write OTLP/JSON lines (or,
// to a "*.pb" file, length-delimited protobuf), and
// DiscardClient counts. The Exporter (New) is the policy: it encodes spans
// into OTLP requests cut by encoded size (Config.MaxRequestBytes, default
// 3 MiB, under the 4 MiB gRPC receive limit of Jaeger and Tempo), sends up
// to Config.MaxInFlight at once with Config.QueueSize more waiting, blocks
// the producer when both are full (backpressure, never a drop), retries
// transient failures with exponential backoff and jitter (honouring gRPC
// RetryInfo and HTTP Retry-After), and counts partial successes.
//
// A single span larger than MaxRequestBytes is sent alone with a warning;
// it is not truncated. If the backend refuses it, the request fails
// permanently and so does its Tracker.
//
// # Fast path
//
// Export encodes span.Batch straight to OTLP protobuf bytes (package
// otlpproto) once, and hands them to clients that implement
// RequestUploader. The gRPC and HTTP/protobuf clients pass the bytes to the
// OTel clients inside tracepb.ResourceSpans wrappers that carry them as
// unknown fields, which proto.Marshal writes verbatim: no tracepb structs
// are built. The file client transcodes the bytes straight to OTLP/JSON
// (otlpjson.AppendProtoRequest: byte-identical to writing the decoded
// tracepb, without building it). HTTP/JSON decodes the bytes to tracepb
// first. A foreign otlptrace.Client gets decoded tracepb. The OTel
// clients' own retry is turned off (the Exporter retries), and their
// optional self-observability metrics count 0 spans for wrapped requests.
//
// # Acknowledgements
//
// t := exp.NewTracker(); exp.Export(ctx, batch, t) for each batch of a
// file; then t.Wait(ctx) closes t, flushes the partly filled request if it
// holds t's spans, and returns nil once every request holding them was
// acknowledged, or the first *ExportError (errors.Is ErrPermanent,
// ErrRetriesExhausted or ErrShutdown). A partial success (spans rejected by
// the backend) is an acknowledgement; it is counted in
// Stats.RejectedSpans and logged.
//
// # Environment
//
// The gRPC and HTTP clients pass the OTel clients only the options that
// were set in TransportOptions, so the standard variables keep working.
// Precedence, lowest first: OTel defaults, environment variables, then
// options set explicitly (in the daemon: config file, then flags). A
// TRACES_ variable wins over its generic form.
//
//	OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
//	    Target URL. Defaults: gRPC https://localhost:4317, HTTP
//	    https://localhost:4318/v1/traces. For HTTP the generic variable is a
//	    base URL (/v1/traces is appended), the TRACES_ one is used as is.
//	    An http:// scheme means insecure. Option: TransportOptions.Endpoint.
//	OTEL_EXPORTER_OTLP_INSECURE, OTEL_EXPORTER_OTLP_TRACES_INSECURE
//	    "true" disables TLS (default false). Option: Insecure.
//	OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE
//	    PEM file of CAs to trust. Option: TLS.CAFile.
//	OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE
//	OTEL_EXPORTER_OTLP_CLIENT_KEY, OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY
//	    PEM client certificate and key for mTLS. Options: CertFile, KeyFile.
//	    Setting any TLS file option replaces all TLS settings from the
//	    environment.
//	OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TRACES_HEADERS
//	    "k1=v1,k2=v2" sent with every request (default none). Option:
//	    Headers (replaces, does not merge).
//	OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_TRACES_COMPRESSION
//	    "gzip" or "none" (default none). Option: Compression. Over gRPC,
//	    gzip is github.com/klauspost/compress/gzip at BestSpeed, which
//	    this package registers process-wide as grpc's "gzip" compressor
//	    at init (grpc looks compressors up by name only; a gRPC receiver
//	    in the same process decompresses with it too). Over HTTP it is
//	    otlptracehttp's own stdlib compress/gzip, which that package
//	    offers no option to replace, about 5x slower.
//	OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT
//	    Milliseconds per attempt (default 10000). Option: Timeout.
//	OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
//	    "grpc", "http/protobuf" or "http/json". NewClientFor uses it to
//	    choose the client when SinkConfig.Protocol is empty, and gRPC when
//	    it is unset too (not the OTel default http/protobuf: gRPC is what
//	    vLLM's own exporter and the backends' default port 4317 speak);
//	    the HTTP client uses it to choose JSON (option: HTTPOptions.JSON).
//
// Retry settings are not taken from the environment: Config.Retry.
package exporter
