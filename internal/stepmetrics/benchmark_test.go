package stepmetrics

import (
	"context"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// BenchmarkAddBatch is the cost on the export path: a converter batch of
// 1000 spans, one of them a step root with the insights attributes.
func BenchmarkAddBatch(b *testing.B) {
	rd := stepBatch()
	root := rd.Spans[0]
	root.Attrs = append(root.Attrs, make([]span.Attr, 30)...) // a real root has ~40 attributes
	batch := &span.Batch{Resource: rd.Resource, Spans: make([]span.Span, 1000)}
	batch.Spans[0] = root
	for i := 1; i < len(batch.Spans); i++ {
		batch.Spans[i] = span.Span{TraceID: root.TraceID, SpanID: sid(byte(i)), Parent: root.SpanID, Name: "ampere_bf16_s16816gemm", Attrs: make([]span.Attr, 10)}
	}
	r, _ := newRecorder(b)
	f := r.NewFile()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Add(batch)
		if len(f.steps) > 1000 {
			f.steps = f.steps[:0]
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Spans)), "ns/span")
}

// BenchmarkCommitStep is the cost of recording one step (all
// instruments, exemplars on).
func BenchmarkCommitStep(b *testing.B) {
	r, _ := newRecorder(b)
	f := r.NewFile()
	f.Add(stepBatch())
	st := f.steps[0]
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.recordStep(ctx, &st)
	}
}
