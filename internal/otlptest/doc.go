// Package otlptest is an in-process OTLP trace collector for tests: a gRPC
// TraceService on 127.0.0.1 and an HTTP /v1/traces endpoint (protobuf and
// JSON, gzip or not), both recording what they receive.
//
// A test can make it fail the next N calls with a chosen gRPC code or HTTP
// status (and a throttling hint), answer with a partial success, go down
// (its ports refuse connections) and come back up on the same ports, delay
// answers, and ask for the largest request it has received.
//
// It decodes what it receives with the protobuf project's own decoders
// (proto.Unmarshal, protojson), never with the bridge's OTLP codec (package
// otlp), so a test that reads the bridge's output back through it checks
// that codec instead of trusting it.
//
// It listens on loopback only, never reads the environment, and is never
// used by the daemon itself.
package otlptest
