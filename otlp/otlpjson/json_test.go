package otlpjson

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpproto"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testBatch() *span.Batch {
	ids := span.NewIDSource([]byte("otlpjson-test"))
	return &span.Batch{
		Resource: &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm"), span.Int("process.pid", 4242)}},
		Scope:    span.Scope{Name: "vllm-otel-bridge", Version: "0.1.0"},
		Spans: []span.Span{
			{
				TraceID: ids.TraceID(1), SpanID: ids.SpanID(1),
				Name: "execute_context_1(128)_generation_3(3)", Kind: span.KindInternal,
				Start: 1764255600123456789, End: 1764255600133456789,
				Attrs: []span.Attr{
					span.Int("vllm.step.index", 7),
					span.Float("gpu.busy_ratio", 0.875),
					span.Bool("vllm.step.prefill", true),
					span.Strings("vllm.request.ids", []string{"cmpl-1", "cmpl-2"}),
					span.Ints("cuda.kernel.grid", []int64{132, 1, 1}),
				},
				Links: []span.Link{{TraceID: ids.TraceID(9), SpanID: ids.SpanID(9), Attrs: []span.Attr{span.String("vllm.request.id", "cmpl-1")}}},
			},
			{
				TraceID: ids.TraceID(1), SpanID: ids.SpanID(2), Parent: ids.SpanID(1),
				Name: "vectorized_elementwise_kernel", Kind: span.KindInternal,
				Start: 1764255600123460000, End: 1764255600123470000,
				Attrs:  []span.Attr{span.String("cuda.kernel.name", "void at::native::vectorized_elementwise_kernel<4, \"x\">\t\u00e9\x01")},
				Events: []span.Event{{Time: 1764255600123465000, Name: "[memory]", Attrs: []span.Attr{span.Int("bytes", -4096)}}},
				Status: span.StatusError, StatusMessage: "oom",
			},
		},
	}
}

// rawRequest uses every field and AnyValue kind the OTLP trace model has.
func rawRequest() *coltracepb.ExportTraceServiceRequest {
	str := func(s string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
	}
	kvs := []*commonpb.KeyValue{
		{Key: "s", Value: str("ünïcode ✓ \"q\" \\ \n")},
		{Key: "b", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}},
		{Key: "bf", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: false}}},
		{Key: "i", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: math.MinInt64}}},
		{Key: "d", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1e-300}}},
		{Key: "dinf", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: math.Inf(-1)}}},
		{Key: "dbig", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1e22}}},
		{Key: "bytes", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2, 0xff}}}},
		{Key: "bytes0", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{}}}},
		{Key: "arr", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{
			Values: []*commonpb.AnyValue{str("x"), {Value: &commonpb.AnyValue_IntValue{IntValue: 3}}, {}},
		}}}},
		{Key: "arr0", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{}}}},
		{Key: "kv", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{
			Values: []*commonpb.KeyValue{{Key: "inner", Value: str("v")}, {Key: "nested", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{}}}}},
		}}}},
		{Key: "empty", Value: &commonpb.AnyValue{}},
		{Key: "nil"},
		{Key: "sv", Value: str("")},
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{
			Attributes: kvs[:2], DroppedAttributesCount: 3,
			EntityRefs: []*commonpb.EntityRef{{SchemaUrl: "https://opentelemetry.io/schemas/1.30.0", Type: "service", IdKeys: []string{"service.name"}, DescriptionKeys: []string{"service.version"}}},
		},
		SchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope:     &commonpb.InstrumentationScope{Name: "vllm", Version: "0.11.0", Attributes: kvs[:1], DroppedAttributesCount: 1},
			SchemaUrl: "https://opentelemetry.io/schemas/1.27.0",
			Spans: []*tracepb.Span{{
				TraceId:                []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
				SpanId:                 []byte{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
				ParentSpanId:           []byte{1, 2, 3, 4, 5, 6, 7, 8},
				TraceState:             "vendor=x,other=y",
				Flags:                  0x301,
				Name:                   "llm_request",
				Kind:                   tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano:      1764255600000000001,
				EndTimeUnixNano:        18446744073709551615,
				Attributes:             kvs,
				DroppedAttributesCount: 2,
				Events:                 []*tracepb.Span_Event{{TimeUnixNano: 5, Name: "first_token", Attributes: kvs[3:4], DroppedAttributesCount: 1}},
				DroppedEventsCount:     4,
				Links: []*tracepb.Span_Link{{
					TraceId: bytes.Repeat([]byte{0xab}, 16), SpanId: bytes.Repeat([]byte{0xcd}, 8),
					TraceState: "a=b", Attributes: kvs[:1], DroppedAttributesCount: 7, Flags: 0x100,
				}},
				DroppedLinksCount: 5,
				Status:            &tracepb.Status{Message: "bad", Code: tracepb.Status_STATUS_CODE_ERROR},
			}, {
				TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8),
				Status: &tracepb.Status{},
			}},
		}},
	}, {}}}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		enc  func() []byte
	}{
		{"batch.jsonl", func() []byte { return append(AppendBatch(nil, testBatch()), '\n') }},
		{"raw.jsonl", func() []byte { return append(AppendExportRequest(nil, rawRequest()), '\n') }},
		{"empty.jsonl", func() []byte { return append(AppendRequest(nil, nil), '\n') }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { testkit.Golden(t, filepath.Join("testdata", tc.name), tc.enc(), *update) })
	}
}

func TestRoundTrip(t *testing.T) {
	tests := map[string]*coltracepb.ExportTraceServiceRequest{
		"batch": {ResourceSpans: []*tracepb.ResourceSpans{otlpproto.ToProto(testBatch())}},
		"raw":   rawRequest(),
		"empty": {},
	}
	for name, req := range tests {
		t.Run(name, func(t *testing.T) {
			enc := AppendExportRequest(nil, req)
			got, err := Unmarshal(enc)
			if err != nil {
				t.Fatalf("Unmarshal: %v\n%s", err, enc)
			}
			if !proto.Equal(got, req) {
				t.Fatalf("round trip differs:\n got %v\nwant %v", got, req)
			}
			if again := AppendExportRequest(nil, got); !bytes.Equal(again, enc) {
				t.Fatalf("re-encoding differs")
			}
		})
	}
}

func TestDecodeLiberties(t *testing.T) {
	in := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607",` +
		`"kind":"SPAN_KIND_CLIENT","startTimeUnixNano":17,"endTimeUnixNano":"18","unknownField":{"x":[1]},` +
		`"attributes":[{"key":"n","value":{"intValue":5}},{"key":"d","value":{"doubleValue":"NaN"}},{"key":"u","value":{"bytesValue":"_-8="}}],` +
		`"status":{"code":"STATUS_CODE_OK"}}]}]}]}`
	req, err := Unmarshal([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	if s.Kind != tracepb.Span_SPAN_KIND_CLIENT || s.StartTimeUnixNano != 17 || s.EndTimeUnixNano != 18 ||
		s.Status.Code != tracepb.Status_STATUS_CODE_OK || s.TraceId[15] != 15 || s.SpanId[7] != 7 {
		t.Fatalf("decoded %v", s)
	}
	if s.Attributes[0].Value.GetIntValue() != 5 || !math.IsNaN(s.Attributes[1].Value.GetDoubleValue()) ||
		!bytes.Equal(s.Attributes[2].Value.GetBytesValue(), []byte{0xff, 0xef}) {
		t.Fatalf("attributes %v", s.Attributes)
	}
}

func TestDecodeErrors(t *testing.T) {
	const ids = `"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607"`
	span := func(fields string) string {
		return `{"resourceSpans":[{"scopeSpans":[{"spans":[{` + ids + fields + `}]}]}]}`
	}
	for _, tc := range []struct{ in, want string }{
		{`{`, "json: "},
		{`[]`, "json: "},
		{`{}{}`, "json: "},
		{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}`, "hex digits"},
		{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102"}]}]}]}`, "traceId has 2 bytes"},
		{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":12}]}]}]}`, "json: "},
		{span(`,"parentSpanId":"01"`), "parentSpanId has 1 bytes"},
		{span(`,"startTimeUnixNano":"-1"`), "json: "},
		{span(`,"attributes":[{"key":"a","value":{"intValue":"1.5"}}]`), "json: "},
		{span(`,"attributes":[{"key":"a","value":{"bytesValue":"!!"}}]`), "json: "},
		{span(`,"name":"\xff"`), "json: "},
	} {
		_, err := Unmarshal([]byte(tc.in))
		if !errors.Is(err, otlp.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Unmarshal(%s) = %v, want otlp.ErrMalformed saying %q", tc.in, err, tc.want)
		}
	}
	if _, err := Unmarshal([]byte(span(""))); err != nil {
		t.Errorf("the valid span the cases start from: %v", err)
	}
}

// TestBase64IDs: ids in base64 are refused by default (OTLP/JSON says
// hex) and read with Base64IDs, where hex still works.
func TestBase64IDs(t *testing.T) {
	const b64 = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"AAECAwQFBgcICQoLDA0ODw==","spanId":"AQIDBAUGBwg=",` +
		`"links":[{"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"AQIDBAUGBwg="}]}]}]}]}`
	if _, err := Unmarshal([]byte(b64)); !errors.Is(err, otlp.ErrMalformed) || !strings.Contains(err.Error(), "not hex") {
		t.Errorf("default options: err = %v, want not hex", err)
	}
	req, err := UnmarshalOptions{Base64IDs: true}.Unmarshal([]byte(b64))
	if err != nil {
		t.Fatal(err)
	}
	s := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	want := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	if !bytes.Equal(s.TraceId, want) || !bytes.Equal(s.SpanId, want[1:9]) ||
		!bytes.Equal(s.Links[0].TraceId, want) || !bytes.Equal(s.Links[0].SpanId, want[1:9]) {
		t.Errorf("ids %x %x, link %x %x", s.TraceId, s.SpanId, s.Links[0].TraceId, s.Links[0].SpanId)
	}
}

// TestReadStream: documents one after another, pretty-printed or not,
// separated by any whitespace or none.
func TestReadStream(t *testing.T) {
	one := AppendExportRequest(nil, rawRequest())
	var pretty bytes.Buffer
	pv := jsontext.Value(bytes.Clone(one))
	if err := pv.Indent(); err != nil {
		t.Fatal(err)
	}
	pretty.Write(pv)
	in := slices.Concat([]byte("\n "), one, one, []byte("\n\t"), pretty.Bytes(), []byte("\n{}\n"))
	var got []*coltracepb.ExportTraceServiceRequest
	if err := (UnmarshalOptions{}).ReadStream(bytes.NewReader(in), func(r *coltracepb.ExportTraceServiceRequest) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || !proto.Equal(got[0], rawRequest()) || !proto.Equal(got[1], rawRequest()) ||
		!proto.Equal(got[2], rawRequest()) || len(got[3].ResourceSpans) != 0 {
		t.Fatalf("got %d requests", len(got))
	}
	for _, bad := range []string{`{}{"resourceSpans":[}`, `{} x`, `{}{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01"}]}]}]}`} {
		err := (UnmarshalOptions{}).ReadStream(strings.NewReader(bad), func(*coltracepb.ExportTraceServiceRequest) error { return nil })
		if !errors.Is(err, otlp.ErrMalformed) || !strings.Contains(err.Error(), "document 1") {
			t.Errorf("%s: err = %v, want otlp.ErrMalformed in document 1", bad, err)
		}
	}
	stop := errors.New("stop")
	if err := (UnmarshalOptions{}).ReadStream(bytes.NewReader(in), func(*coltracepb.ExportTraceServiceRequest) error { return stop }); err != stop {
		t.Fatalf("callback error not returned: %v", err)
	}
}

func TestReadJSONLines(t *testing.T) {
	long := testBatch()
	long.Spans[0].Name = strings.Repeat("k", 200000) // longer than the reader's buffer
	var in []byte
	in = append(AppendBatch(in, testBatch()), '\n')
	in = append(in, "\n  \n"...)
	in = append(AppendBatch(in, long), '\n')
	in = AppendExportRequest(in, rawRequest()) // no final newline
	var got []*coltracepb.ExportTraceServiceRequest
	err := ReadJSONLines(bytes.NewReader(in), func(r *coltracepb.ExportTraceServiceRequest) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].ResourceSpans[0].ScopeSpans[0].Spans[0].Name != long.Spans[0].Name || !proto.Equal(got[2], rawRequest()) {
		t.Fatalf("got %d requests", len(got))
	}

	bad := append(AppendBatch(nil, testBatch()), "\n{\"resourceSpans\":[}\n"...)
	err = ReadJSONLines(bytes.NewReader(bad), func(*coltracepb.ExportTraceServiceRequest) error { return nil })
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || !errors.Is(err, otlp.ErrMalformed) {
		t.Fatalf("err = %v, want a LineError on line 2 matching otlp.ErrMalformed", err)
	}
	stop := errors.New("stop")
	if err := ReadJSONLines(bytes.NewReader(in), func(*coltracepb.ExportTraceServiceRequest) error { return stop }); err != stop {
		t.Fatalf("callback error not returned: %v", err)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(AppendBatch(nil, testBatch()))
	f.Add(AppendExportRequest(nil, rawRequest()))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_CLIENT","startTimeUnixNano":17}]}]}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := Unmarshal(in)
		if err != nil {
			if !errors.Is(err, otlp.ErrMalformed) {
				t.Fatalf("error does not match otlp.ErrMalformed: %v", err)
			}
			return
		}
		// What we decode, we can write and read back identically.
		enc := AppendExportRequest(nil, req)
		again, err := Unmarshal(enc)
		if err != nil {
			t.Fatalf("re-decoding our own output: %v\n%s", err, enc)
		}
		if enc2 := AppendExportRequest(nil, again); !bytes.Equal(enc, enc2) {
			t.Fatalf("not stable:\n%s\n%s", enc, enc2)
		}
	})
}
