package stepmetrics

import (
	"context"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// requestStep is a vllm.request.step span of the request whose llm_request
// is (tr, parent), carrying one step's share and the request's total.
func requestStep(tr span.TraceID, parent, id span.SpanID, share, total int64) span.Span {
	return span.Span{TraceID: tr, SpanID: id, Parent: parent, Name: "vllm.request.step", Start: t0, End: t0 + 1e6, Attrs: []span.Attr{
		span.Int("vllm.request.gpu_attributed_ns", share), span.Int("vllm.request.gpu_attributed_total_ns", total),
	}}
}

// TestRequestsRecordedOnce: a request is one measurement, whether its
// llm_request is the bridge's (the root carries the sum) or vLLM's (only
// its request-step spans are the bridge's: their total is the sum), and
// however many batches its spans come in.
func TestRequestsRecordedOnce(t *testing.T) {
	r, rd := newRecorder(t)
	ctx := context.Background()
	res := &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm")}}
	// Requests A and B under vLLM's own llm_request spans sid(20) and
	// sid(21), in one trace (a client's trace context); C's root is the
	// bridge's, with its request-step spans in the same batch.
	r.RecordRequests(ctx, &span.Batch{Resource: res, Spans: []span.Span{
		requestStep(tid(20), sid(20), sid(30), 1_000_000, 2_500_000),
		requestStep(tid(20), sid(20), sid(31), 1_500_000, 2_500_000),
		requestStep(tid(20), sid(21), sid(32), 30_000_000, 30_000_000),
		{TraceID: tid(22), SpanID: sid(22), Name: "llm_request", Start: t0, End: t0 + 1e9, Attrs: []span.Attr{
			span.Int("vllm.request.gpu_attributed_ns", 200_000_000),
		}},
		requestStep(tid(22), sid(22), sid(33), 200_000_000, 200_000_000),
	}})
	// Later spans of A and C (a step the linker learnt of late) are not
	// new requests.
	r.RecordRequests(ctx, &span.Batch{Resource: res, Spans: []span.Span{
		requestStep(tid(20), sid(20), sid(34), 500_000, 3_000_000),
		requestStep(tid(22), sid(22), sid(35), 50_000_000, 250_000_000),
	}})
	// Buckets: 2.5 ms is index 3 (1 ms, 5 ms], 30 ms index 5 (10 ms, 50 ms],
	// 200 ms index 7 (100 ms, 500 ms]. The exemplars name the llm_request
	// spans.
	want := float64(2_500_000)/1e9 + float64(30_000_000)/1e9 + float64(200_000_000)/1e9
	checkHist(t, RequestGPUAttributed, histograms(t, collect(t, rd)[RequestGPUAttributed]), map[string]hist{
		"": {3, want, map[int]uint64{3: 1, 5: 1, 7: 1}, []string{ex(tid(20), sid(20)), ex(tid(20), sid(21)), ex(tid(22), sid(22))}},
	})
}

func TestRecentSetForgetsTheOldest(t *testing.T) {
	var s recentSet
	key := func(i int) requestKey { return requestKey{trace: span.TraceID{byte(i), byte(i >> 8), byte(i >> 16)}} }
	for i := range recentRequests {
		if !s.add(key(i)) {
			t.Fatalf("key %d not new", i)
		}
	}
	if s.add(key(0)) || s.add(key(recentRequests-1)) {
		t.Fatal("a key still held was added again")
	}
	if !s.add(key(recentRequests)) { // evicts key 0
		t.Fatal("a new key was not added")
	}
	if !s.add(key(0)) {
		t.Error("the oldest key was not forgotten")
	}
	if s.add(key(2)) {
		t.Error("key 2 was forgotten before key 1")
	}
	if len(s.has) != recentRequests || len(s.ring) != recentRequests {
		t.Errorf("holds %d keys in a ring of %d, want %d", len(s.has), len(s.ring), recentRequests)
	}
}
