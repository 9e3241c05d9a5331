package converter

import (
	"fmt"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

const h100Fixture = "../testdata/h100/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz"

func TestCap(t *testing.T) {
	raw := readFile(t, "testdata/hta/trace_filter--sampled_rank-0.json.gz")
	full := DefaultOptions()
	full.MaxSpansPerTrace = 0
	all, allSt, err := convertBytes(t, raw, full)
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 2, 50, 700, 2400} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			opts := DefaultOptions()
			opts.MaxSpansPerTrace = limit
			capped, st, err := convertBytes(t, raw, opts)
			if err != nil {
				t.Fatal(err)
			}
			checkTrees(t, capped.spans)
			if st.SpansEmitted+st.SpansDropped != allSt.SpansEmitted {
				t.Fatalf("emitted %d + dropped %d != %d", st.SpansEmitted, st.SpansDropped, allSt.SpansEmitted)
			}
			type key struct {
				tr span.TraceID
				id span.SpanID
			}
			kept := map[key]bool{}
			perTrace := map[span.TraceID]int{}
			var reportedCount, reportedDur int64
			reported := map[key][2]int64{}
			for _, s := range capped.spans {
				kept[key{s.TraceID, s.SpanID}] = true
				perTrace[s.TraceID]++
				c, ok1 := lookupInt(s.Attrs, "bridge.dropped_spans.count")
				d, ok2 := lookupInt(s.Attrs, "bridge.dropped_spans.duration_ns")
				if ok1 != ok2 {
					t.Fatal("count without duration")
				}
				reportedCount += c
				reportedDur += d
				if ok1 {
					reported[key{s.TraceID, s.SpanID}] = [2]int64{c, d}
				}
			}
			// A step trace keeps its root and rank span whatever the cap.
			for tr, n := range perTrace {
				if n > max(limit, 2) {
					t.Fatalf("trace %s has %d spans, cap %d", tr, n, limit)
				}
			}
			if reportedCount != st.SpansDropped {
				t.Fatalf("dropped_spans.count sums to %d, Stats.SpansDropped = %d", reportedCount, st.SpansDropped)
			}
			// Independently: what was dropped, and on which kept ancestor
			// it must be reported; and the kept spans are the longest.
			byKey := map[key]span.Span{}
			for _, s := range all.spans {
				byKey[key{s.TraceID, s.SpanID}] = s
			}
			want := map[key][2]int64{}
			minKept := map[span.TraceID]int64{}
			maxDropped := map[span.TraceID]int64{}
			var droppedDur int64
			for _, s := range all.spans {
				k := key{s.TraceID, s.SpanID}
				d := s.End - s.Start
				if s.Parent.IsZero() {
					continue
				}
				if kept[k] {
					if v, ok := minKept[s.TraceID]; !ok || d < v {
						minKept[s.TraceID] = d
					}
					continue
				}
				droppedDur += d
				maxDropped[s.TraceID] = max(maxDropped[s.TraceID], d)
				p := byKey[key{s.TraceID, s.Parent}]
				for !kept[key{p.TraceID, p.SpanID}] {
					p = byKey[key{p.TraceID, p.Parent}]
				}
				w := want[key{p.TraceID, p.SpanID}]
				want[key{p.TraceID, p.SpanID}] = [2]int64{w[0] + 1, w[1] + d}
			}
			if droppedDur != reportedDur {
				t.Fatalf("dropped duration %d, reported %d", droppedDur, reportedDur)
			}
			if fmt.Sprint(want) != fmt.Sprint(reported) {
				t.Fatalf("dropped summaries differ:\nwant %v\ngot  %v", want, reported)
			}
			for tr, mx := range maxDropped {
				if mn, ok := minKept[tr]; ok && mn < mx {
					t.Fatalf("trace %s kept a %d ns span but dropped a %d ns one", tr, mn, mx)
				}
			}
		})
	}
}

type fakeLinker struct {
	steps []enginestep.Step
	links int
}

func (f *fakeLinker) LinkStep(s enginestep.Step) enginestep.Link {
	f.steps = append(f.steps, s)
	l := enginestep.Link{RequestIDs: []string{fmt.Sprintf("req-%d", s.Index)}}
	ids := span.NewIDSource([]byte("requests"))
	for i := 0; i < f.links; i++ {
		l.Links = append(l.Links, span.Link{TraceID: ids.TraceID(uint64(i)), SpanID: ids.SpanID(uint64(i))})
	}
	return l
}

func TestLinker(t *testing.T) {
	lk := &fakeLinker{links: 200}
	opts := DefaultOptions()
	opts.Linker = lk
	c, st, err := convertBytes(t, readFile(t, "testdata/golden/era_e_full.json"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(lk.steps) != 2 || st.Steps != 2 {
		t.Fatalf("linker called %d times for %d steps", len(lk.steps), st.Steps)
	}
	roots := 0
	for _, s := range c.spans {
		if !s.Parent.IsZero() || s.Name == "vllm.profile" {
			continue
		}
		step := lk.steps[roots]
		roots++
		if step.TraceID != s.TraceID || step.RootSpanID != s.SpanID || step.Start != s.Start {
			t.Fatalf("step %d: linker saw %s/%s, root is %s/%s", step.Index, step.TraceID, step.RootSpanID, s.TraceID, s.SpanID)
		}
		var rank *span.Span
		for i := range c.spans {
			if c.spans[i].Parent == s.SpanID && c.spans[i].Name == RankStepSpanName {
				rank = &c.spans[i]
			}
		}
		if rank == nil {
			t.Fatalf("step %d: no rank span under the root", step.Index)
		}
		if kc, _ := lookupInt(rank.Attrs, "vllm.step.kernel_count"); int(kc) != step.KernelCount {
			t.Fatalf("kernel count %d vs %d", kc, step.KernelCount)
		}
		if busy, _ := lookupInt(rank.Attrs, "vllm.step.gpu_busy_ns"); busy != step.GPUBusyNs {
			t.Fatalf("busy %d vs %d", busy, step.GPUBusyNs)
		}
		if step.Resource == nil || step.End < step.Start {
			t.Fatal("step without resource or with negative length")
		}
		if len(s.Links) != 128 {
			t.Fatalf("root has %d links, want 128", len(s.Links))
		}
		if n, _ := lookupInt(s.Attrs, "bridge.dropped_links.count"); n != 72 {
			t.Fatalf("dropped_links.count = %d", n)
		}
		v, ok := span.Lookup(s.Attrs, "vllm.step.request_ids")
		if !ok || len(v.Strs) != 1 || v.Strs[0] != fmt.Sprintf("req-%d", step.Index) {
			t.Fatalf("request ids %v", v.Strs)
		}
	}
	if roots != 2 {
		t.Fatalf("%d step roots", roots)
	}
}

// Memory events of a dropped span move to its kept ancestor.
func TestCapKeepsEvents(t *testing.T) {
	opts := DefaultOptions()
	opts.MaxSpansPerTrace = 1
	c, st, err := convertBytes(t, readFile(t, "testdata/golden/era_e_full.json"), opts)
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	for _, s := range c.spans {
		events += len(s.Events)
	}
	if events != int(st.SpanEvents) || events != 2 {
		t.Fatalf("%d events emitted, Stats says %d, want 2", events, st.SpanEvents)
	}
	if len(c.spans) != 5 {
		t.Fatalf("%d spans with cap 1, want the 3 roots and the 2 rank spans", len(c.spans))
	}
}
