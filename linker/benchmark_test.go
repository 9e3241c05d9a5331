package linker

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// BenchmarkLoadText measures parsing the fixture text log into a timeline
// (498 lines, 111 KB per op).
func BenchmarkLoadText(b *testing.B) {
	data, err := os.ReadFile(fixturePath("vllm.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		tl := NewTimeline(TimelineOptions{})
		if _, err := Load(bytes.NewReader(data), "vllm.log", LoadOptions{Text: vllmlog.TextOptions{Year: 2026}}, tl); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLinkStep measures LinkStep in a steady state: a timeline
// holding n requests (16 running at a time, one finishing per step) and a
// stream of decode steps.
func BenchmarkLinkStep(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		b.Run(fmt.Sprintf("requests=%d", n), func(b *testing.B) {
			tl := NewTimeline(TimelineOptions{MaxRequests: n + 10})
			const stepNs = int64(6e6)
			t0 := int64(1795789000e9)
			for i := range n {
				id := fmt.Sprintf("r%d", i)
				arr := t0 + int64(i)*stepNs
				fin := arr + 16*stepNs
				_ = tl.AddLLMRequestSpan(span.TraceID{1, byte(i), byte(i >> 8)}, span.SpanID{1, byte(i), byte(i >> 8)}, span.SpanID{}, arr, fin+1e5,
					[]span.Attr{span.String("gen_ai.request.id", id), span.Float("gen_ai.latency.time_in_queue", 0),
						span.Float("gen_ai.latency.time_to_first_token", float64(stepNs)/1e9), span.Float("gen_ai.latency.time_in_model_prefill", float64(stepNs)/1e9),
						span.Float("gen_ai.latency.time_in_model_decode", float64(15*stepNs)/1e9)})
			}
			l := New(tl, func(*span.Batch) error { return nil }, Options{})
			res := &span.Resource{}
			a, _ := enginestep.ParseAnnotation("execute_context_1(100)_generation_15(15)")
			b.ReportAllocs()
			i := 16
			for b.Loop() {
				st := t0 + int64(i)*stepNs + 1000
				l.LinkStep(enginestep.Step{Index: i, Annotation: a, Start: st, End: st + stepNs, Resource: res})
				i++
				if i >= n {
					b.StopTimer()
					l = New(tl, func(*span.Batch) error { return nil }, Options{})
					res = &span.Resource{}
					i = 16
					b.StartTimer()
				}
			}
		})
	}
}
