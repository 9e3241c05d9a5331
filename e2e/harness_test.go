//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"
)

// TestHarnessJaegerRoundTrip checks the harness itself, without the bridge:
// the fixture's OTLP/JSON spans posted straight to Jaeger's OTLP/HTTP
// receiver come back from /api/v3 equal to what the harness decoded, and
// /api/v3/traces search finds them by service and time. If this fails, the
// other tests' failures say nothing about the bridge.
func TestHarnessJaegerRoundTrip(t *testing.T) {
	_, fx := loadShiftedFixture(t)
	sent, err := decodeOTLPJSON(fx.Spans)
	if err != nil {
		t.Fatal(err)
	}
	want := groupTraces(sent)
	if len(want) != len(fx.TraceIDs) {
		t.Fatalf("decoded %d traces, the fixture has %d", len(want), len(fx.TraceIDs))
	}
	postOTLPJSON(t, "http://"+jaegerAPI.otlpHTTP+"/v1/traces", fx.Spans)

	got := waitForTraces(t, want, "", 30*time.Second)
	for _, id := range traceIDs(want) {
		compareSpans(t, "round trip", want[id], got[id])
	}

	// Search: every llm_request of service vllm in the shifted run's time range.
	var first, last int64
	n := 0
	for _, s := range sent {
		if s.Name != "llm_request" {
			continue
		}
		n++
		if first == 0 || s.Start < first {
			first = s.Start
		}
		if s.Start > last {
			last = s.Start
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	found, err := jaegerAPI.Find(ctx, "vllm", "llm_request", time.Unix(0, first), time.Unix(0, last), 1000)
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	hits := 0
	for id := range groupTraces(found) {
		if want[id] != nil {
			hits++
		}
	}
	if hits != n {
		t.Errorf("search by service and time found %d of the %d posted llm_request traces", hits, n)
	}
}
