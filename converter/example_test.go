package converter_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func ExampleConvert() {
	trace := `{"baseTimeNanoseconds": 1790857026000000000, "traceEvents": [
	  {"ph":"X","cat":"user_annotation","name":"execute_context_0(0)_generation_4(4)","pid":1,"tid":1,"ts":10.000,"dur":50.000},
	  {"ph":"X","cat":"cpu_op","name":"aten::mm","pid":1,"tid":1,"ts":12.000,"dur":8.000},
	  {"ph":"X","cat":"kernel","name":"void at::native::vectorized_gather_kernel<16, long>(char*)","pid":0,"tid":7,"ts":20.000,"dur":5.000,"args":{"correlation":3}},
	  {"ph":"X","cat":"cuda_runtime","name":"cudaLaunchKernel","pid":1,"tid":1,"ts":13.000,"dur":2.000,"args":{"correlation":3}}
	]}`
	opts := converter.DefaultOptions()
	opts.Resource = []span.Attr{span.String("service.name", "vllm")}
	names := map[span.SpanID]string{{}: "(root)"}
	var spans []span.Span
	st, err := converter.Convert(context.Background(), strings.NewReader(trace), opts, func(b *span.Batch) error {
		// b is only valid during this call: keep copies of what is needed.
		for _, s := range b.Spans {
			names[s.SpanID] = s.Name
			spans = append(spans, span.Span{Name: s.Name, SpanID: s.SpanID, Parent: s.Parent, Start: s.Start, End: s.End})
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range spans {
		fmt.Printf("%-24s parent=%-24s %d ns\n", s.Name, names[s.Parent], s.End-s.Start)
	}
	fmt.Println("steps:", st.Steps, "traces:", st.Traces, "era:", st.Era)
	// Output:
	// vllm.step.decode         parent=(root)                   50000 ns
	// vllm.rank.step           parent=vllm.step.decode         50000 ns
	// aten::mm                 parent=vllm.rank.step           8000 ns
	// vectorized_gather_kernel parent=cudaLaunchKernel         5000 ns
	// cudaLaunchKernel         parent=aten::mm                 2000 ns
	// vllm.profile             parent=(root)                   50000 ns
	// steps: 1 traces: 2 era: E
}
