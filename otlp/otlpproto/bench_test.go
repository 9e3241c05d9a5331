package otlpproto

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/internal/kernels"
)

// BenchmarkAppendProto reports the cost per span (10 attributes).
func BenchmarkAppendProto(b *testing.B) {
	batch := kernels.Batch(1000)
	buf := make([]byte, 0, ProtoSize(batch))
	b.ReportAllocs()
	b.SetBytes(int64(ProtoSize(batch)))
	for b.Loop() {
		buf = AppendProto(buf[:0], batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Spans)), "ns/span")
}

func BenchmarkBuilder(b *testing.B) {
	batch := kernels.Batch(1000)
	var bld Builder
	var h Header
	var spare []byte
	b.ReportAllocs()
	for b.Loop() {
		h.SetBatch(batch.Resource, batch.Scope)
		bld.Open(&h)
		for i := range batch.Spans {
			bld.AddSpan(&batch.Spans[i], SpanSize(&batch.Spans[i]))
		}
		spare, _ = bld.Take(spare, false)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Spans)), "ns/span")
}

func BenchmarkToProtoMarshal(b *testing.B) {
	batch := kernels.Batch(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := proto.Marshal(ToProto(batch)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Spans)), "ns/span")
}
