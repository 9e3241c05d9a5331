// Package receiver is the bridge's OTLP trace receiver: it accepts the spans
// vLLM exports with --otlp-traces-endpoint (OTLP/gRPC and OTLP/HTTP with
// protobuf or JSON bodies, optionally gzip-compressed, optionally over TLS or
// mTLS) and hands every request, unchanged, to a Consumer. The sender is
// acknowledged only after the Consumer returned nil, so an acknowledged span
// has been taken over by the bridge's output.
//
// Memory is bounded: request bodies that are read but not yet acknowledged
// are counted against Config.MaxPendingBytes, and a request that would exceed
// the bound is refused with the protocol's retryable answer (gRPC
// RESOURCE_EXHAUSTED with RetryInfo, HTTP 429 with Retry-After) instead of
// being buffered. A request over Config.MaxRecvMessageBytes is refused as too
// large (gRPC RESOURCE_EXHAUSTED without RetryInfo, HTTP 413), malformed data
// as invalid (gRPC INVALID_ARGUMENT, HTTP 400), and a Consumer failure as
// retryable (gRPC UNAVAILABLE with RetryInfo, HTTP 503 with Retry-After)
// unless the Consumer marks it permanent with NewPermanentError.
//
// It is OTLP transport only: requests are decoded and checked with the
// bridge's OTLP codec (packages otlp/otlpproto and otlp/otlpjson), and what
// vLLM's spans mean is read elsewhere (linker/vllmlog.LLMRequests).
//
// The receiver never changes, drops, samples or reorders spans, never buffers
// data beyond MaxPendingBytes, never retries on the sender's behalf, never
// stores anything on disk, and never binds a non-loopback address unless the
// configuration says so. It never exports: what happens to the spans is the
// Consumer's business.
package receiver
