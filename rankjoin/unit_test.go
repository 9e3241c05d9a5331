package rankjoin

import (
	"errors"
	"slices"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func part(step, rank int64, start, wall int64, colls ...int64) converter.RankStep {
	ids := span.NewIDSource([]byte("unit"))
	var comm int64
	for _, c := range colls {
		comm += c
	}
	return converter.RankStep{
		TraceID: ids.TraceID(uint64(step)), RootID: ids.SpanID(uint64(step)),
		RankSpanID: ids.SpanID(uint64(1000*rank + step + 7)),
		Rank:       rank, WorldSize: 2,
		Start: start, End: start + wall, WallNs: wall, CommNs: comm, Collectives: colls,
		Name: "vllm.step.decode", Attrs: []span.Attr{span.Int("vllm.step.index", step)},
		Resource: &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm")}},
	}
}

// StepRoot's figures, computed by hand: rank 1 waited 70 µs in the
// collectives for rank 0, so rank 0 is the slowest by step time although
// rank 1's wall time is longer.
func TestStepRootFigures(t *testing.T) {
	p0 := part(3, 0, 1_000, 500_000, 10_000, 20_000)
	p1 := part(3, 1, 1_200, 520_000, 50_000, 50_000)
	root := converter.StepRoot([]converter.RankStep{p1, p0, p1}) // order and a duplicate do not matter
	get := func(k string) span.Value {
		v, ok := span.Lookup(root.Attrs, k)
		if !ok {
			t.Fatalf("root lacks %s", k)
		}
		return v
	}
	if root.Start != 1_000 || root.End != 1_200+520_000 || root.SpanID != p0.RootID || root.TraceID != p0.TraceID {
		t.Fatalf("root %+v", root)
	}
	for k, want := range map[string][]int64{
		"vllm.step.rank_ids":                {0, 1},
		"vllm.step.rank_wall_ns":            {500_000, 520_000},
		"vllm.step.rank_comm_ns":            {30_000, 100_000},
		"vllm.step.rank_collective_wait_ns": {0, 70_000},
	} {
		if got := get(k).Ints; !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	for k, want := range map[string]int64{
		"vllm.step.ranks":             2,
		"vllm.step.slowest_rank":      0, // 500000 - 0 > 520000 - 70000
		"vllm.step.fastest_rank":      1,
		"vllm.step.rank_skew_ns":      50_000,
		"vllm.step.rank_wall_skew_ns": 20_000,
		"vllm.step.index":             3,
	} {
		if got := get(k).Num; got != want {
			t.Errorf("%s = %d, want %d", k, got, want)
		}
	}
	// One rank: no cross-rank figures.
	lone := converter.StepRoot([]converter.RankStep{p1})
	if _, ok := span.Lookup(lone.Attrs, "vllm.step.rank_skew_ns"); ok {
		t.Error("a lone rank's root has a skew")
	}
	// Collectives that do not match: no wait, step time = wall time.
	p1.Collectives = p1.Collectives[:1]
	r := converter.StepRoot([]converter.RankStep{p0, p1})
	if _, ok := span.Lookup(r.Attrs, "vllm.step.rank_collective_wait_ns"); ok {
		t.Error("collective wait written for unmatched collectives")
	}
	if v, _ := span.Lookup(r.Attrs, "vllm.step.slowest_rank"); v.Num != 1 {
		t.Errorf("slowest rank %d by wall time, want 1", v.Num)
	}
}

func TestJoinerWriteThrough(t *testing.T) {
	j := New(nil, Options{Mode: WriteThrough})
	var got []span.Span
	emit := func(b *span.Batch) error { got = append(got, b.Spans...); return nil }
	if err := j.ForFile(emit).AddStep(part(0, 0, 0, 100)); err != nil {
		t.Fatal(err)
	}
	if err := j.ForFile(emit).AddStep(part(0, 1, 10, 100)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SpanID != got[1].SpanID {
		t.Fatalf("%d roots written", len(got))
	}
	if v, _ := span.Lookup(got[1].Attrs, "vllm.step.ranks"); v.Num != 2 {
		t.Fatalf("the second file's root has %d ranks", v.Num)
	}
	if st := j.Stats(); st.RootsWritten != 2 || st.Complete != 1 || st.Steps != 1 || st.Parts != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestJoinerHoldFlushRetriesAndConflicts(t *testing.T) {
	fail := true
	var got []span.Span
	j := New(func(b *span.Batch) error {
		if fail {
			return errors.New("backend down")
		}
		got = append(got, b.Spans...)
		return nil
	}, Options{})
	s := j.ForFile(func(*span.Batch) error { t.Fatal("Hold wrote through"); return nil })
	for _, p := range []converter.RankStep{part(0, 0, 0, 100), part(0, 0, 0, 100), part(0, 1, 5, 100), part(1, 0, 1e9, 100)} {
		if err := s.AddStep(p); err != nil {
			t.Fatal(err)
		}
	}
	// A second file claiming rank 1 of step 1, and a part 1 s off: conflicts.
	other := part(1, 1, 1e9, 100)
	other.RankSpanID = span.SpanID{9}
	late := part(1, 1, 3e9, 100)
	late.RankSpanID = span.SpanID{10}
	for _, p := range []converter.RankStep{other, late} {
		if err := s.AddStep(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Flush(); err == nil {
		t.Fatal("Flush hid the emit error")
	}
	fail = false
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d roots after the retry, want 2", len(got))
	}
	conflict := 0
	for _, r := range got {
		if v, ok := span.Lookup(r.Attrs, "bridge.step.window_conflict"); ok && v.AsBool() {
			conflict++
		}
	}
	if st := j.Stats(); conflict != 1 || st.Conflicts != 1 || st.Parts != 5 || st.RootsWritten != 2 {
		t.Fatalf("%d conflicting roots, stats %+v", conflict, st)
	}
	if err := j.Flush(); err != nil || len(got) != 2 {
		t.Fatalf("a Flush with nothing new wrote again (%d roots, %v)", len(got), err)
	}
}

func TestJoinerMaxSteps(t *testing.T) {
	var got []span.Span
	j := New(func(b *span.Batch) error { got = append(got, b.Spans...); return nil }, Options{MaxSteps: 2})
	s := j.ForFile(nil)
	for k := int64(0); k < 5; k++ {
		if err := s.AddStep(part(k, 0, k, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d roots written while trimming, want 3", len(got))
	}
	if err := j.Flush(); err != nil || len(got) != 5 {
		t.Fatalf("%d roots after Flush, want 5 (%v)", len(got), err)
	}
}
