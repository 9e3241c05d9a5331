// Package kernels builds the kernel-like spans that the otlp codec's tests
// and benchmarks encode: one shape (ten attributes of every scalar kind
// and two integer arrays, as the converter writes for a CUDA kernel), so
// that the protobuf and the JSON numbers describe the same work.
//
// It is for tests only: nothing outside otlp/'s _test.go files imports it,
// and it never does I/O.
package kernels

import "github.com/vllm-otel-bridge/vllm-otel-bridge/span"

// Span returns kernel span k with ids from ids: trace k/10, span k, parent
// k+1000, 750 ns long, starting k µs after 1,700,000,000 s.
func Span(ids span.IDSource, k uint64) span.Span {
	return span.Span{
		TraceID: ids.TraceID(k / 10),
		SpanID:  ids.SpanID(k),
		Parent:  ids.SpanID(k + 1000),
		Name:    "ampere_sgemm_128x64_tn",
		Kind:    span.KindInternal,
		Start:   1_700_000_000_000_000_000 + int64(k)*1000,
		End:     1_700_000_000_000_000_000 + int64(k)*1000 + 750,
		Attrs: []span.Attr{
			span.String("cuda.kernel.name", "void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>>"),
			span.Int("gpu.device.id", 0),
			span.Int("gpu.stream.id", 7),
			span.Int("cuda.correlation_id", int64(k)),
			span.Float("cuda.kernel.occupancy", 0.75),
			span.Ints("cuda.kernel.grid", []int64{132, 1, 1}),
			span.Ints("cuda.kernel.block", []int64{256, 1, 1}),
			span.Int("cuda.kernel.registers_per_thread", 32),
			span.Bool("gpu.kernel.blocking", false),
			span.Int("pytorch.external_id", int64(k)*3),
		},
	}
}

// Batch returns n kernel spans 0..n-1 (ids from the seed "bench") under a
// service.name=vllm resource and the vllm-otel-bridge scope.
func Batch(n int) *span.Batch {
	ids := span.NewIDSource([]byte("bench"))
	b := &span.Batch{
		Resource: &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm")}},
		Scope:    span.Scope{Name: "vllm-otel-bridge"},
	}
	for k := range uint64(n) {
		b.Spans = append(b.Spans, Span(ids, k))
	}
	return b
}
