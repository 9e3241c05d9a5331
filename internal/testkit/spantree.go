package testkit

import (
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// SpanRef is what CheckTrees reads of a span: its trace, its id, its
// parent's id (zero for a root) and a name for the failure message.
type SpanRef struct {
	Trace  span.TraceID
	ID     span.SpanID
	Parent span.SpanID
	Name   string
}

// CheckTrees fails t unless spans form well-formed trees: no span id
// twice in one trace, every parent in its child's trace, and exactly one
// root in each trace.
func CheckTrees(t testing.TB, spans []SpanRef) {
	t.Helper()
	type key struct {
		tr span.TraceID
		id span.SpanID
	}
	seen := make(map[key]bool, len(spans))
	roots := map[span.TraceID]int{}
	for _, s := range spans {
		k := key{s.Trace, s.ID}
		if seen[k] {
			t.Fatalf("span %s %s: id twice in trace %s", s.Name, s.ID, s.Trace)
		}
		seen[k] = true
		if s.Parent.IsZero() {
			roots[s.Trace]++
		}
	}
	for _, s := range spans {
		if !s.Parent.IsZero() && !seen[key{s.Trace, s.Parent}] {
			t.Fatalf("span %s %s: parent %s not in trace %s", s.Name, s.ID, s.Parent, s.Trace)
		}
	}
	for _, s := range spans {
		if n := roots[s.Trace]; n != 1 {
			t.Fatalf("trace %s has %d roots", s.Trace, n)
		}
	}
}
