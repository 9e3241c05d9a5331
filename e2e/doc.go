// Package e2e holds vllm-otel-bridge's end-to-end tests: they build and run
// the real bridge binary (convert, run, and its OTLP receiver) against a real
// Jaeger v2 and read the results back through Jaeger's /api/v3 query API.
//
// The tests live behind the build tag "e2e" and need a running Jaeger, whose
// addresses come from the environment (scripts/jaeger.sh start writes them):
//
//	JAEGER_OTLP_GRPC  host:port of Jaeger's OTLP/gRPC receiver
//	JAEGER_OTLP_HTTP  host:port of Jaeger's OTLP/HTTP receiver
//	JAEGER_QUERY      host:port of Jaeger's query HTTP API
//	BRIDGE_BIN        optional: a prebuilt bridge binary (else TestMain builds
//	                  ./cmd/vllm-otel-bridge into a temporary directory)
//
// Run them with scripts/test.sh, or by hand:
//
//	scripts/jaeger.sh start && source ~/.cache/vllm-otel-bridge/jaeger-run/env
//	go test -tags e2e -count=1 -v ./e2e/...
//	scripts/jaeger.sh stop
//
// The package contains no code outside tests and is never imported. Its tests
// never reach beyond loopback, never read /work/shared (fixtures are copied
// into the repository's testdata/), and never modify the fixtures: each test rewrites a copy
// shifted to the present time, so repeated runs against one Jaeger do not mix.
package e2e
