package otlpproto

import (
	"bytes"
	"math"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/internal/kernels"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// testBatches covers every value type, events, links, statuses, empty and
// unicode strings, negative numbers, NaN and the optional fields.
func testBatches() map[string]*span.Batch {
	ids := span.NewIDSource([]byte("otlpproto-test"))
	res := &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm"), span.Int("process.pid", 4242)}}
	full := span.Span{
		TraceID: ids.TraceID(1), SpanID: ids.SpanID(1), Parent: ids.SpanID(2),
		Name: "execute_context_1(128)_generation_3(3) ✓ 日本語", Kind: span.KindServer,
		Start: 1, End: math.MaxInt64,
		Attrs: []span.Attr{
			span.String("s", "value with \"quotes\" and \\ and \n and \x00"),
			span.String("empty", ""),
			span.String("", "empty key"),
			span.Int("neg", -1),
			span.Int("min", math.MinInt64),
			span.Int("zero", 0),
			span.Float("f", -1.25e-300),
			span.Float("nan", math.NaN()),
			span.Float("inf", math.Inf(1)),
			span.Float("fzero", 0),
			span.Bool("t", true),
			span.Bool("f", false),
			span.Strings("ss", []string{"a", "", "ü"}),
			span.Strings("ss0", nil),
			span.Ints("is", []int64{-5, 0, 1 << 40}),
			span.Ints("is0", []int64{}),
			{Key: "empty-value"},
		},
		Events: []span.Event{
			{Time: 5, Name: "[memory]", Attrs: []span.Attr{span.Int("bytes", 1<<20)}},
			{},
		},
		Links: []span.Link{
			{TraceID: ids.TraceID(9), SpanID: ids.SpanID(9), Attrs: []span.Attr{span.String("vllm.request.id", "cmpl-1")}},
			{TraceID: ids.TraceID(10), SpanID: ids.SpanID(10)},
		},
		Status: span.StatusError, StatusMessage: "boom",
	}
	minimal := span.Span{TraceID: ids.TraceID(3), SpanID: ids.SpanID(3)}
	okStatus := span.Span{TraceID: ids.TraceID(4), SpanID: ids.SpanID(4), Status: span.StatusOK}
	msgOnly := span.Span{TraceID: ids.TraceID(5), SpanID: ids.SpanID(5), StatusMessage: "m"}
	many := &span.Batch{Resource: res, Scope: span.Scope{Name: "vllm-otel-bridge", Version: "1.0"}}
	for k := range uint64(300) {
		many.Spans = append(many.Spans, kernels.Span(ids, k))
	}
	bigName := span.Span{TraceID: ids.TraceID(6), SpanID: ids.SpanID(6), Name: string(bytes.Repeat([]byte("x"), 70000))}
	return map[string]*span.Batch{
		"empty":          {},
		"nil-resource":   {Scope: span.Scope{Name: "s"}, Spans: []span.Span{minimal}},
		"empty-resource": {Resource: &span.Resource{}, Spans: []span.Span{minimal}},
		"full":           {Resource: res, Scope: span.Scope{Name: "n", Version: "v"}, Spans: []span.Span{full, minimal, okStatus, msgOnly}},
		"kernels":        many,
		"long-name":      {Resource: res, Spans: []span.Span{bigName}},
		"version-only":   {Resource: res, Scope: span.Scope{Version: "v"}, Spans: []span.Span{minimal}},
	}
}

func TestAppendProtoEqualsProtoMarshal(t *testing.T) {
	for name, b := range testBatches() {
		t.Run(name, func(t *testing.T) {
			want, err := proto.Marshal(ToProto(b))
			if err != nil {
				t.Fatal(err)
			}
			got := AppendProto([]byte("prefix"), b)[len("prefix"):]
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendProto differs from proto.Marshal:\n got %x\nwant %x", got, want)
			}
			if n := ProtoSize(b); n != len(want) {
				t.Fatalf("ProtoSize = %d, want %d", n, len(want))
			}
			var rs tracepb.ResourceSpans
			if err := proto.Unmarshal(got, &rs); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&rs, ToProto(b)) && name != "full" { // NaN != NaN under proto.Equal
				t.Fatal("round trip differs")
			}
			again, _ := proto.Marshal(&rs)
			if !bytes.Equal(again, want) {
				t.Fatal("re-marshal after round trip differs")
			}
			for i := range b.Spans {
				if n := SpanSize(&b.Spans[i]); n != len(AppendSpan(nil, &b.Spans[i])) {
					t.Fatalf("span %d: SpanSize %d != encoded size", i, n)
				}
			}
		})
	}
}

func TestBuilderCutsBySize(t *testing.T) {
	batches := testBatches()
	for _, limit := range []int{1 << 10, 8 << 10, 64 << 10, 3 << 20} {
		var bld Builder
		var h Header
		var bodies [][]byte
		total := 0
		add := func(b *span.Batch) {
			h.SetBatch(b.Resource, b.Scope)
			bld.Open(&h)
			for i := range b.Spans {
				n := SpanSize(&b.Spans[i])
				if bld.Spans() > 0 && bld.SizeWith(EntrySize(n)) > limit {
					body, _ := bld.Take(nil, true)
					bodies = append(bodies, body)
				}
				bld.AddSpan(&b.Spans[i], n)
				total++
			}
		}
		for _, name := range []string{"kernels", "full", "nil-resource", "kernels", "long-name", "version-only"} {
			add(batches[name])
		}
		want := bld.Len()
		body, _ := bld.Take(nil, false)
		if len(body) != want {
			t.Fatalf("Len %d != taken %d", want, len(body))
		}
		bodies = append(bodies, body)
		got := 0
		for i, body := range bodies {
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(body, &req); err != nil {
				t.Fatalf("limit %d body %d: %v", limit, i, err)
			}
			spans := 0
			for _, rs := range req.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					spans += len(ss.Spans)
				}
			}
			if len(body) > limit && spans != 1 {
				t.Fatalf("limit %d: body %d is %d bytes with %d spans", limit, i, len(body), spans)
			}
			if sz := proto.Size(&req); sz != len(body) {
				t.Fatalf("proto.Size %d != body %d", sz, len(body))
			}
			got += spans
			n := 0
			if err := SplitRequest(body, func([]byte) { n++ }); err != nil || n != len(req.ResourceSpans) {
				t.Fatalf("SplitRequest: %d entries, err %v; want %d", n, err, len(req.ResourceSpans))
			}
		}
		if got != total {
			t.Fatalf("limit %d: %d spans in requests, want %d", limit, got, total)
		}
	}
}

func TestBuilderMatchesToProto(t *testing.T) {
	b := testBatches()["full"]
	var bld Builder
	var h Header
	h.SetBatch(b.Resource, b.Scope)
	bld.Open(&h)
	for i := range b.Spans {
		bld.AddSpan(&b.Spans[i], SpanSize(&b.Spans[i]))
	}
	body, n := bld.Take(nil, false)
	if n != len(b.Spans) {
		t.Fatalf("spans %d", n)
	}
	want, _ := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{ToProto(b)}})
	if !bytes.Equal(body, want) {
		t.Fatalf("builder body differs from proto.Marshal of the request")
	}
	// The same spans forwarded as raw protobuf give the same bytes.
	rs := ToProto(b)
	var h2 Header
	if err := h2.SetProto(rs.Resource, rs.ScopeSpans[0].Scope, "", ""); err != nil {
		t.Fatal(err)
	}
	bld.Open(&h2)
	for _, s := range rs.ScopeSpans[0].Spans {
		enc, _ := proto.Marshal(s)
		bld.AddEncodedSpan(enc)
	}
	body2, _ := bld.Take(nil, false)
	if !bytes.Equal(body2, want) {
		t.Fatalf("raw builder body differs")
	}
}

func TestSplitRequestMalformed(t *testing.T) {
	for _, in := range [][]byte{{0x0a}, {0x0a, 0x05, 1}, {0xff}, {0x12, 0x80}} {
		if err := SplitRequest(in, func([]byte) {}); err == nil {
			t.Errorf("SplitRequest(%x): no error", in)
		}
	}
}

func TestForEachFieldCountsNestedSpans(t *testing.T) {
	// Built as structs and marshalled by proto: the oracle is the structs.
	req := &coltracepb.ExportTraceServiceRequest{}
	want := 0
	for r := 0; r < 3; r++ {
		rs := &tracepb.ResourceSpans{SchemaUrl: "s"}
		for s := 0; s <= r; s++ {
			ss := &tracepb.ScopeSpans{SchemaUrl: "x"}
			for i := 0; i < r+s+1; i++ {
				ss.Spans = append(ss.Spans, &tracepb.Span{Name: "n", StartTimeUnixNano: uint64(i + 1)})
				want++
			}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		req.ResourceSpans = append(req.ResourceSpans, rs)
	}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	got, entries := 0, 0
	err = ForEachField(body, 1, func(rs []byte) {
		entries++
		if err := ForEachField(rs, 2, func(ss []byte) {
			if err := ForEachField(ss, 2, func([]byte) { got++ }); err != nil {
				t.Errorf("spans: %v", err)
			}
		}); err != nil {
			t.Errorf("scope spans: %v", err)
		}
	})
	if err != nil || entries != 3 || got != want {
		t.Fatalf("ForEachField: %d resource spans, %d spans, err %v; want 3, %d", entries, got, err, want)
	}
	// A field cut short is an error, after the fields before it.
	n := 0
	if err := ForEachField(append(append([]byte{}, body...), 0x0a, 0x05, 1), 1, func([]byte) { n++ }); err == nil || n != 3 {
		t.Fatalf("truncated: %d fields, err %v; want 3 and an error", n, err)
	}
}

func FuzzSplitRequest(f *testing.F) {
	b := testBatches()["full"]
	body, _ := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{ToProto(b)}})
	f.Add(body)
	f.Add([]byte{0x0a, 0x00, 0x12, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		total := 0
		err := SplitRequest(in, func(rs []byte) { total += len(rs) })
		if err == nil && total > len(in) {
			t.Fatalf("entries longer than input")
		}
	})
}
