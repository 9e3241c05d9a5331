package converter

import (
	"reflect"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// TestCloneRankStep: the copy equals the original and shares none of its
// slices: writing every element of the copy leaves the original as it was.
func TestCloneRankStep(t *testing.T) {
	mk := func() RankStep {
		return RankStep{
			Rank: 1, Name: "decode", Collectives: []int64{5, 7},
			Attrs:    []span.Attr{span.Strings("vllm.request.ids", []string{"a", "b"}), span.Int("vllm.step.index", 3)},
			Figures:  []span.Attr{span.Ints("vllm.step.kernels", []int64{1, 2})},
			Links:    []span.Link{{TraceID: span.TraceID{1}, SpanID: span.SpanID{2}, Attrs: []span.Attr{span.Strings("k", []string{"v"})}}},
			Resource: &span.Resource{Attrs: []span.Attr{span.Ints("r", []int64{9})}},
		}
	}
	orig, want := mk(), mk()
	c := CloneRankStep(orig)
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("clone\n%+v\nwant\n%+v", c, want)
	}
	c.Collectives[0] = 0
	c.Attrs[0].Value.Strs[0] = "x"
	c.Attrs[1].Key = "x"
	c.Figures[0].Value.Ints[0] = 0
	c.Links[0].Attrs[0].Value.Strs[0] = "x"
	c.Links[0].SpanID = span.SpanID{}
	c.Resource.Attrs[0].Value.Ints[0] = 0
	if !reflect.DeepEqual(orig, want) {
		t.Errorf("writing the clone changed the original:\n%+v\nwant\n%+v", orig, want)
	}
	// Empty slices stay non-nil in the copy, as a StepSink may keep them.
	e := CloneRankStep(RankStep{})
	if e.Attrs == nil || e.Figures == nil || e.Links == nil || e.Resource != nil {
		t.Errorf("empty clone %+v", e)
	}
}
