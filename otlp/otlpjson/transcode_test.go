package otlpjson

import (
	"bytes"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/internal/kernels"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpproto"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// oldPath is what the file client wrote before AppendProtoRequest: decode
// with proto.Unmarshal, then AppendExportRequest.
func oldPath(body []byte) ([]byte, *coltracepb.ExportTraceServiceRequest, error) {
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return nil, nil, err
	}
	return AppendExportRequest(nil, &req), &req, nil
}

// checkTranscode asserts that AppendProtoRequest agrees with oldPath on
// body, byte for byte (or both fail), that it appends to what dst holds,
// and that protojson reads its output back as the same message.
func checkTranscode(t *testing.T, body []byte) {
	t.Helper()
	want, req, werr := oldPath(body)
	prefix := []byte("prefix ")
	got, err := AppendProtoRequest(append([]byte(nil), prefix...), body)
	if (err != nil) != (werr != nil) {
		t.Fatalf("AppendProtoRequest error %v, proto.Unmarshal error %v\nbody %x", err, werr, body)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("dst prefix lost: %q", got)
	}
	got = got[len(prefix):]
	if err != nil {
		if len(got) != 0 {
			t.Fatalf("error %v but wrote %q", err, got)
		}
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("transcoded output differs from the tracepb writer's\n got %s\nwant %s\nbody %x", got, want, body)
	}
	checkProtojson(t, got, req)
}

// checkProtojson decodes out with protojson and compares it with req.
// OTLP/JSON writes ids as hex where protojson expects base64, so the ids
// of req are first replaced by what protojson makes of their hex strings.
func checkProtojson(t *testing.T, out []byte, req *coltracepb.ExportTraceServiceRequest) {
	t.Helper()
	var got coltracepb.ExportTraceServiceRequest
	if err := protojson.Unmarshal(out, &got); err != nil {
		t.Fatalf("protojson cannot read the output: %v\n%s", err, out)
	}
	want := proto.Clone(req).(*coltracepb.ExportTraceServiceRequest)
	want.ProtoReflect().SetUnknown(nil)
	fix := func(id []byte) []byte {
		if len(id) == 0 {
			return id
		}
		var s tracepb.Span
		if err := protojson.Unmarshal([]byte(`{"traceId":"`+hex.EncodeToString(id)+`"}`), &s); err != nil {
			t.Fatalf("protojson on a hex id: %v", err)
		}
		return s.TraceId
	}
	for _, rs := range want.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				s.TraceId, s.SpanId, s.ParentSpanId = fix(s.TraceId), fix(s.SpanId), fix(s.ParentSpanId)
				for _, l := range s.Links {
					l.TraceId, l.SpanId = fix(l.TraceId), fix(l.SpanId)
				}
			}
		}
	}
	dropUnknown(want.ProtoReflect())
	if !proto.Equal(&got, want) {
		t.Fatalf("protojson reads a different message\n got %v\nwant %v", &got, want)
	}
}

// dropUnknown clears unknown fields everywhere in m (JSON has none).
func dropUnknown(m protoreflect.Message) {
	m.SetUnknown(nil)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil:
		case fd.IsList():
			for i := range v.List().Len() {
				dropUnknown(v.List().Get(i).Message())
			}
		default:
			dropUnknown(v.Message())
		}
		return true
	})
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// builderBody encodes b the way the exporter does, with otlpproto.Builder.
func builderBody(b *span.Batch) []byte {
	var bld otlpproto.Builder
	var h otlpproto.Header
	h.SetBatch(b.Resource, b.Scope)
	bld.Open(&h)
	for i := range b.Spans {
		bld.AddSpan(&b.Spans[i], otlpproto.SpanSize(&b.Spans[i]))
	}
	body, _ := bld.Take(nil, false)
	return body
}

// TestAppendProtoRequestGolden: the transcoder reproduces the golden files
// of the tracepb writer from encoded requests.
func TestAppendProtoRequestGolden(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"batch.jsonl", builderBody(testBatch())},
		{"raw.jsonl", marshal(t, rawRequest())},
		{"empty.jsonl", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendProtoRequest(nil, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			testkit.Golden(t, filepath.Join("testdata", tc.name), append(got, '\n'), *update)
			if _, ok := appendRequestWire(nil, tc.body); !ok {
				t.Fatal("took the fallback")
			}
			checkTranscode(t, tc.body)
			// And the OTLP/JSON reader reads it back as the same message.
			req, err := Unmarshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var want coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(tc.body, &want); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(req, &want) {
				t.Fatalf("read back %v\nwant %v", req, &want)
			}
		})
	}
}

// TestAppendProtoRequestAllocs: the wire path allocates nothing once dst
// is large enough.
func TestAppendProtoRequestAllocs(t *testing.T) {
	body := builderBody(kernels.Batch(200))
	buf, err := AppendProtoRequest(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() { buf, _ = AppendProtoRequest(buf[:0], body) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}

// TestAppendProtoRequestFallback: inputs outside the wire path's canonical
// form (out of order, merged, unknown, oneof twice, deep nesting) and
// malformed or non-UTF-8 inputs give what proto.Unmarshal and the tracepb
// writer give.
func TestAppendProtoRequestFallback(t *testing.T) {
	raw := marshal(t, rawRequest())
	span := func(fields ...[]byte) []byte {
		s := bytes.Join(fields, nil)
		ss := protowire.AppendBytes([]byte{0x12}, s) // ScopeSpans.spans
		rs := protowire.AppendBytes([]byte{0x12}, ss)
		return protowire.AppendBytes([]byte{0x0a}, rs)
	}
	f := func(num protowire.Number, typ protowire.Type, v []byte) []byte {
		return append(protowire.AppendTag(nil, num, typ), v...)
	}
	bytesF := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	varintF := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	fixed32F := func(num protowire.Number, v uint32) []byte {
		return protowire.AppendFixed32(protowire.AppendTag(nil, num, protowire.Fixed32Type), v)
	}
	kv := func(k string, val []byte) []byte { return bytesF(9, append(bytesF(1, []byte(k)), bytesF(2, val)...)) }
	id16, id8 := bytes.Repeat([]byte{0xab}, 16), bytes.Repeat([]byte{0xcd}, 8)
	deep := bytesF(1, []byte("x"))
	for range 100 {
		deep = bytesF(5, bytesF(1, deep))
	}
	tests := map[string][]byte{
		"canonical":          raw,
		"flags-first":        span(fixed32F(16, 0x301), bytesF(1, id16), bytesF(5, []byte("n"))),
		"flags-middle":       span(bytesF(1, id16), bytesF(4, id8), fixed32F(16, 7), bytesF(5, []byte("n"))),
		"flags-last":         span(bytesF(1, id16), bytesF(2, id8), bytesF(5, []byte("n")), kv("a", bytesF(1, []byte("b"))), fixed32F(16, 1)),
		"flags-only":         span(fixed32F(16, 1)),
		"flags-zero":         span(bytesF(1, id16), fixed32F(16, 0)),
		"flags-twice":        span(fixed32F(16, 1), fixed32F(16, 2)),
		"flags-wrong-type":   span(varintF(16, 1)),
		"zero-scalars":       span(bytesF(1, nil), bytesF(5, nil), varintF(6, 0), f(7, protowire.Fixed64Type, make([]byte, 8)), varintF(10, 0)),
		"out-of-order":       span(bytesF(5, []byte("n")), bytesF(1, id16)),
		"name-twice":         span(bytesF(5, []byte("a")), bytesF(5, []byte("b"))),
		"attrs-interleaved":  span(kv("a", nil), varintF(10, 3), kv("b", nil)),
		"status-twice":       span(bytesF(15, bytesF(2, []byte("m"))), bytesF(15, varintF(3, 2))),
		"unknown-field":      span(bytesF(1, id16), varintF(99, 1)),
		"unknown-top":        append(append([]byte(nil), raw...), varintF(2, 1)...),
		"wrong-wire-type":    span(varintF(5, 1)),
		"oneof-twice":        span(kv("a", append(bytesF(1, []byte("s")), varintF(3, 5)...))),
		"oneof-same-twice":   span(kv("a", append(bytesF(5, bytesF(1, varintF(3, 1))), bytesF(5, bytesF(1, varintF(3, 2)))...))),
		"kind-overflow":      span(varintF(6, math.MaxUint64)),
		"code-negative":      span(bytesF(15, varintF(3, math.MaxUint64))),
		"strindex":           span(kv("", varintF(8, 1<<33|5))),
		"int-min":            span(kv("i", varintF(3, 1<<63))),
		"bool-big":           span(kv("b", varintF(2, 7))),
		"double-nan-payload": span(kv("d", f(4, protowire.Fixed64Type, []byte{1, 0, 0, 0, 0, 0, 0xf8, 0x7f}))),
		"deep":               span(kv("deep", deep)),
		"bad-utf8-key":       span(kv("\xff", nil)),
		"bad-utf8-name":      span(bytesF(5, []byte("a\xc3"))),
		"surrogate":          span(bytesF(5, []byte("\xed\xa0\x80"))),
		"utf8-ok":            span(bytesF(5, []byte("ü✓\U0001F600\x7f\u2028\ufffd"))),
		"truncated":          raw[:len(raw)-1],
		"bad-length":         {0x0a, 0x05, 1},
		"bad-tag":            {0xff},
		"group":              span(f(20, protowire.StartGroupType, nil), f(20, protowire.EndGroupType, nil)),
		"field-zero":         span(varintF(0, 1)),
		"empty-messages":     span(kv("", nil), bytesF(11, nil), bytesF(13, nil), bytesF(15, nil)),
		"long-key":           span(kv(strings.Repeat("k", 200), bytesF(1, []byte("v")))),
		"long-value":         span(kv("k", bytesF(1, bytes.Repeat([]byte("v\""), 100)))),
		"kv-value-first":     span(bytesF(9, append(bytesF(2, varintF(3, 1)), bytesF(1, []byte("k"))...))),
		"kv-bad-utf8-value":  span(kv("k", bytesF(1, []byte("\xff")))),
	}
	// These stay on the wire path; the rest take the fallback.
	wire := map[string]bool{
		"canonical": true, "flags-first": true, "flags-middle": true, "flags-last": true, "flags-only": true,
		"flags-zero": true, "zero-scalars": true, "kind-overflow": true, "code-negative": true, "strindex": true,
		"int-min": true, "bool-big": true, "double-nan-payload": true, "utf8-ok": true, "empty-messages": true,
		"long-key": true, "long-value": true,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			checkTranscode(t, body)
			if _, ok := appendRequestWire(nil, body); ok != wire[name] {
				t.Errorf("wire path taken: %v, want %v", ok, wire[name])
			}
		})
	}
}

// TestAppendProtoRequestRandom compares the transcoder with the tracepb
// writer on random requests using every field, encoded canonically and
// with every message's fields shuffled at the wire level.
func TestAppendProtoRequestRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		req := randomRequest(rng)
		body := marshal(t, req)
		checkTranscode(t, body)
		if _, ok := appendRequestWire(nil, body); !ok {
			t.Fatalf("canonical request %d took the fallback", i)
		}
		if i%3 == 0 {
			checkTranscode(t, shuffleWire(rng, req.ProtoReflect().Descriptor(), body))
		}
	}
}

// shuffleWire re-encodes the message body b of type md with the fields of
// every message permuted.
func shuffleWire(rng *rand.Rand, md protoreflect.MessageDescriptor, b []byte) []byte {
	var fields [][]byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		field := b[:n+m]
		if fd := md.Fields().ByNumber(num); fd != nil && fd.Message() != nil && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[n:])
			field = protowire.AppendBytes(append([]byte(nil), b[:n]...), shuffleWire(rng, fd.Message(), v))
		}
		fields = append(fields, field)
		b = b[n+m:]
	}
	rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	return bytes.Join(fields, nil)
}

func randomRequest(rng *rand.Rand) *coltracepb.ExportTraceServiceRequest {
	str := func() string {
		const chars = "ab\"\\\n\t\x01ü✓ /"
		rs := []rune(chars)
		n := rng.IntN(6)
		out := make([]rune, n)
		for i := range out {
			out[i] = rs[rng.IntN(len(rs))]
		}
		return string(out)
	}
	id := func(n int) []byte {
		if rng.IntN(5) == 0 {
			n = rng.IntN(20)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	u32 := func() uint32 {
		if rng.IntN(2) == 0 {
			return 0
		}
		return rng.Uint32()
	}
	var value func(depth int) *commonpb.AnyValue
	var kvs func(depth int) []*commonpb.KeyValue
	value = func(depth int) *commonpb.AnyValue {
		v := &commonpb.AnyValue{}
		switch rng.IntN(10) {
		case 0:
		case 1:
			v.Value = &commonpb.AnyValue_StringValue{StringValue: str()}
		case 2:
			v.Value = &commonpb.AnyValue_BoolValue{BoolValue: rng.IntN(2) == 0}
		case 3:
			v.Value = &commonpb.AnyValue_IntValue{IntValue: int64(rng.Uint64())}
		case 4:
			fs := []float64{0, -0.0, 1.5, -2e-300, 1e21, 123456789.125, math.NaN(), math.Inf(1), math.Inf(-1), rng.NormFloat64() * 1e9}
			v.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: fs[rng.IntN(len(fs))]}
		case 5:
			a := &commonpb.ArrayValue{}
			if depth < 3 {
				for range rng.IntN(3) {
					a.Values = append(a.Values, value(depth+1))
				}
			}
			v.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: a}
		case 6:
			l := &commonpb.KeyValueList{}
			if depth < 3 {
				l.Values = kvs(depth + 1)
			}
			v.Value = &commonpb.AnyValue_KvlistValue{KvlistValue: l}
		case 7:
			v.Value = &commonpb.AnyValue_BytesValue{BytesValue: id(rng.IntN(5))}
		case 8:
			v.Value = &commonpb.AnyValue_StringValueStrindex{StringValueStrindex: int32(rng.Uint32())}
		case 9:
			v.Value = &commonpb.AnyValue_StringValue{StringValue: ""}
		}
		return v
	}
	kvs = func(depth int) []*commonpb.KeyValue {
		var out []*commonpb.KeyValue
		for range rng.IntN(4) {
			kv := &commonpb.KeyValue{Key: str()}
			if rng.IntN(6) > 0 {
				kv.Value = value(depth)
			}
			if rng.IntN(6) == 0 {
				kv.KeyStrindex = int32(rng.Uint32())
			}
			out = append(out, kv)
		}
		return out
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	for range rng.IntN(3) {
		rs := &tracepb.ResourceSpans{SchemaUrl: str()}
		if rng.IntN(3) > 0 {
			rs.Resource = &resourcepb.Resource{Attributes: kvs(0), DroppedAttributesCount: u32()}
			if rng.IntN(3) == 0 {
				rs.Resource.EntityRefs = []*commonpb.EntityRef{{SchemaUrl: str(), Type: str(), IdKeys: []string{str(), str()}, DescriptionKeys: []string{str()}}, {}}
			}
		}
		for range rng.IntN(3) {
			ss := &tracepb.ScopeSpans{SchemaUrl: str()}
			if rng.IntN(3) > 0 {
				ss.Scope = &commonpb.InstrumentationScope{Name: str(), Version: str(), Attributes: kvs(0), DroppedAttributesCount: u32()}
			}
			for range rng.IntN(4) {
				s := &tracepb.Span{
					TraceId: id(16), SpanId: id(8), TraceState: str(), Flags: u32(), Name: str(),
					Kind: tracepb.Span_SpanKind(rng.IntN(7) - 1), StartTimeUnixNano: rng.Uint64(), EndTimeUnixNano: rng.Uint64() >> rng.IntN(64),
					Attributes: kvs(0), DroppedAttributesCount: u32(), DroppedEventsCount: u32(), DroppedLinksCount: u32(),
				}
				if rng.IntN(2) == 0 {
					s.ParentSpanId = id(8)
				}
				for range rng.IntN(3) {
					s.Events = append(s.Events, &tracepb.Span_Event{TimeUnixNano: rng.Uint64(), Name: str(), Attributes: kvs(0), DroppedAttributesCount: u32()})
				}
				for range rng.IntN(3) {
					s.Links = append(s.Links, &tracepb.Span_Link{TraceId: id(16), SpanId: id(8), TraceState: str(), Attributes: kvs(0), DroppedAttributesCount: u32(), Flags: u32()})
				}
				if rng.IntN(2) == 0 {
					s.Status = &tracepb.Status{Message: str(), Code: tracepb.Status_StatusCode(rng.IntN(4) - 1)}
				}
				ss.Spans = append(ss.Spans, s)
			}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		req.ResourceSpans = append(req.ResourceSpans, rs)
	}
	return req
}

// FuzzAppendProtoRequest: on any input, the transcoder fails exactly when
// proto.Unmarshal does, and otherwise writes what the tracepb writer
// writes, which protojson reads back as the same message.
func FuzzAppendProtoRequest(f *testing.F) {
	f.Add(builderBody(testBatch()))
	f.Add(marshal(f, rawRequest()))
	rng := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		f.Add(marshal(f, randomRequest(rng)))
	}
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) { checkTranscode(t, in) })
}

// benchRequest is the encoded request of 1,000 kernel spans both
// benchmarks below start from, and its OTLP/JSON (whose size sets MB/s).
func benchRequest(b *testing.B) (body, js []byte) {
	body = builderBody(kernels.Batch(1000))
	js, err := AppendProtoRequest(nil, body)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(js)))
	b.ReportAllocs()
	return body, js
}

// BenchmarkAppendProtoRequest: the file client's path now, from an
// encoded request of 1,000 kernel spans (10 attributes) to OTLP/JSON.
// MB/s are of JSON written.
func BenchmarkAppendProtoRequest(b *testing.B) {
	body, buf := benchRequest(b)
	for b.Loop() {
		buf, _ = AppendProtoRequest(buf[:0], body)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/span")
}

// BenchmarkUnmarshalAppendRequest: the file client's path before, the
// same request decoded to tracepb and written with AppendRequest.
func BenchmarkUnmarshalAppendRequest(b *testing.B) {
	body, buf := benchRequest(b)
	for b.Loop() {
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			b.Fatal(err)
		}
		buf = AppendRequest(buf[:0], req.ResourceSpans)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/span")
}

// TestAppendWireString: the wire path's string writer escapes exactly as
// appendString does and refuses what utf8.Valid refuses, at every
// position of the 8-byte scan.
func TestAppendWireString(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("abcXYZ019 ~\x7f\"\\/\n\r\t\x00\x1f\x20\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80\xed\xa0\x80\xff\xc0")
	for range 20000 {
		p := make([]byte, rng.IntN(40))
		for i := range p {
			if rng.IntN(4) == 0 {
				p[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				p[i] = 'a' + byte(rng.IntN(26))
			}
		}
		got, ok := appendWireString([]byte("x"), p)
		if ok != utf8.Valid(p) {
			t.Fatalf("%q: ok = %v", p, ok)
		}
		if ok && string(got) != string(appendString([]byte("x"), string(p))) {
			t.Fatalf("%q: got %s want %s", p, got, appendString(nil, string(p)))
		}
	}
}

func FuzzAppendWireString(f *testing.F) {
	f.Add([]byte("plain ascii text, long enough"))
	f.Add([]byte("\"quote\\ \x01\xff é"))
	f.Fuzz(func(t *testing.T, p []byte) {
		got, ok := appendWireString(nil, p)
		if ok != utf8.Valid(p) {
			t.Fatalf("%q: ok = %v", p, ok)
		}
		if ok && string(got) != string(appendString(nil, string(p))) {
			t.Fatalf("%q: got %s", p, got)
		}
	})
}

// BenchmarkUnmarshal: the OTLP/JSON reader on the same 1,000-span request
// (MB/s of JSON read), and the hex-to-base64 id rewrite alone.
func BenchmarkUnmarshal(b *testing.B) {
	js, _ := AppendProtoRequest(nil, builderBody(kernels.Batch(1000)))
	b.Run("unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Unmarshal(js); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/span")
	})
	b.Run("id-rewrite-only", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := hexIDsToBase64(js, false); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/span")
	})
}
