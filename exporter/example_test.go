package exporter_test

import (
	"context"
	"fmt"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/exporter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func Example() {
	ctx := context.Background()
	client := &exporter.DiscardClient{} // or exporter.NewClientFor(exporter.SinkConfig{Protocol: "grpc"}, nil, nil)
	exp := exporter.New(client, exporter.DefaultConfig(), nil)
	if err := exp.Start(ctx); err != nil {
		panic(err)
	}
	defer exp.Shutdown(ctx)

	ids := span.NewIDSource([]byte("trace-file-fingerprint"))
	batch := &span.Batch{
		Resource: &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm")}},
		Spans: []span.Span{{
			TraceID: ids.TraceID(1), SpanID: ids.SpanID(1), Name: "execute_model",
			Start: 1_764_255_600_000_000_000, End: 1_764_255_600_010_000_000,
		}},
	}
	t := exp.NewTracker() // one per trace file
	if err := exp.Export(ctx, batch, t); err != nil {
		panic(err)
	}
	if err := t.Wait(ctx); err != nil { // nil: every span acknowledged
		panic(err)
	}
	_, spans, _ := client.Counts()
	fmt.Println("acknowledged:", t.Acked(), "received:", spans)
	// Output: acknowledged: 1 received: 1
}
