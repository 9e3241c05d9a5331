package receiver_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/receiver"
)

// printSpans is a Consumer that reports the spans it gets.
type printSpans struct{}

func (printSpans) ConsumeTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	for _, r := range rs {
		for _, ss := range r.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				fmt.Printf("%s %s trace=%x %d attributes\n", ss.GetScope().GetName(), sp.GetName(), sp.GetTraceId(), len(sp.GetAttributes()))
			}
		}
	}
	return nil // acknowledge: the sender will not retry
}

// Start a receiver, post one vLLM llm_request span as OTLP/JSON, and see
// it arrive at the Consumer decoded.
func Example() {
	cfg := receiver.DefaultConfig()
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0" // any free port
	r, err := receiver.New(cfg, printSpans{}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := r.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	}()

	body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"vllm"}}]},
	  "scopeSpans":[{"scope":{"name":"vllm.llm_engine"},"spans":[{
	    "traceId":"24606309b0745e3fb8406baf99a52395","spanId":"24d9d4d9b27eb1cd","name":"llm_request","kind":2,
	    "startTimeUnixNano":"1795789263608374775","endTimeUnixNano":"1795789265356425377",
	    "attributes":[{"key":"gen_ai.request.id","value":{"stringValue":"chatcmpl-f1fd42a29755d4c1"}},
	      {"key":"gen_ai.usage.prompt_tokens","value":{"intValue":"21"}},
	      {"key":"gen_ai.usage.completion_tokens","value":{"intValue":"11"}},
	      {"key":"gen_ai.latency.time_to_first_token","value":{"doubleValue":0.865502906}},
	      {"key":"gen_ai.latency.e2e","value":{"doubleValue":1.748050602}}]}]}]}]}`
	resp, err := http.Post("http://"+r.Addrs().HTTP+receiver.HTTPTracesPath, "application/json", bytes.NewBufferString(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	fmt.Println(resp.Status, r.Stats().Spans)
	// Output:
	// vllm.llm_engine llm_request trace=24606309b0745e3fb8406baf99a52395 5 attributes
	// 200 OK 1
}
