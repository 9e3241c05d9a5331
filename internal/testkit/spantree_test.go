package testkit

import (
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func TestCheckTrees(t *testing.T) {
	tr := func(b byte) span.TraceID { return span.TraceID{b} }
	id := func(b byte) span.SpanID { return span.SpanID{b} }
	// Two traces of two spans each; span ids 1 and 2 in both.
	good := []SpanRef{
		{Trace: tr(1), ID: id(1), Name: "root a"},
		{Trace: tr(1), ID: id(2), Parent: id(1), Name: "child a"},
		{Trace: tr(2), ID: id(2), Parent: id(1), Name: "child b"},
		{Trace: tr(2), ID: id(1), Name: "root b"},
	}
	if msg := runFake(t, func(tb testing.TB) { CheckTrees(tb, good) }); msg != "" {
		t.Fatalf("well-formed trees: %q", msg)
	}
	for _, tc := range []struct {
		name  string
		edit  func([]SpanRef) []SpanRef
		wants string
	}{
		{"id twice", func(s []SpanRef) []SpanRef {
			return append(s, SpanRef{Trace: tr(1), ID: id(2), Parent: id(1), Name: "again"})
		},
			"span again 0200000000000000: id twice in trace 01000000000000000000000000000000"},
		{"parent in another trace", func(s []SpanRef) []SpanRef { s[2].Parent = id(3); return s },
			"span child b 0200000000000000: parent 0300000000000000 not in trace 02000000000000000000000000000000"},
		{"two roots", func(s []SpanRef) []SpanRef { return append(s, SpanRef{Trace: tr(2), ID: id(3), Name: "second root"}) },
			"trace 02000000000000000000000000000000 has 2 roots"},
		{"no root", func(s []SpanRef) []SpanRef { s[0].Parent = id(2); return s },
			"trace 01000000000000000000000000000000 has 0 roots"},
	} {
		spans := tc.edit(append([]SpanRef(nil), good...))
		msg := runFake(t, func(tb testing.TB) { CheckTrees(tb, spans) })
		if !strings.Contains(msg, tc.wants) {
			t.Errorf("%s: fatal %q, want %q", tc.name, msg, tc.wants)
		}
	}
}
