package receiver

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp"
)

func TestDecodeJSONFixture(t *testing.T) {
	req, err := decodeJSON(readFixture(t, "llm_request.otlp.json"))
	if err != nil {
		t.Fatalf("decodeJSON: %v", err)
	}
	rs := req.GetResourceSpans()
	if len(rs) != 2 || countSpans(rs) != 112 {
		t.Fatalf("got %d resource spans, %d spans; want 2, 112", len(rs), countSpans(rs))
	}
	first := rs[0].GetScopeSpans()[0].GetSpans()[0]
	for _, c := range []struct{ name, got, want string }{
		{"traceId", hex.EncodeToString(first.GetTraceId()), "24606309b0745e3fb8406baf99a52395"},
		{"spanId", hex.EncodeToString(first.GetSpanId()), "24d9d4d9b27eb1cd"},
		{"parentSpanId", hex.EncodeToString(first.GetParentSpanId()), "c447a7759bd140c2"},
		{"name", first.GetName(), "llm_request"},
		{"kind", first.GetKind().String(), "SPAN_KIND_SERVER"},
	} {
		if c.got != c.want {
			t.Errorf("first span %s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if got := first.GetStartTimeUnixNano(); got != 1795789263608374775 {
		t.Errorf("start = %d, want 1795789263608374775 (nanosecond-exact)", got)
	}
	// The frontend's spans have no parent.
	if p := rs[1].GetScopeSpans()[0].GetSpans()[0].GetParentSpanId(); len(p) != 0 {
		t.Errorf("frontend span parent = %x, want none", p)
	}
}

// TestJSONEqualsProto sends the same data both ways and expects identical
// messages: the OTLP/JSON path must lose nothing.
func TestJSONEqualsProto(t *testing.T) {
	fixture, err := decodeJSON(readFixture(t, "llm_request.otlp.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]*collectortrace.ExportTraceServiceRequest{
		"synthetic": makeRequest(7, 5),
		"fixture":   fixture,
		"empty":     {},
	} {
		t.Run(name, func(t *testing.T) {
			roundTrip(t, "protobuf", decodeProto, mustMarshal(t, want), want)
			roundTrip(t, "OTLP/JSON", decodeJSON, encodeJSON(t, want), want)
		})
	}
}

func TestDecodeJSONVariants(t *testing.T) {
	const tid = "5b8efff798038103d269b633813fc60c"
	const sid = "eee19b7ec3c1b174"
	wantTrace, _ := hex.DecodeString(tid)
	wantSpan, _ := hex.DecodeString(sid)
	wrap := func(span string) string {
		return `{"resourceSpans":[{"scopeSpans":[{"spans":[` + span + `]}]}]}`
	}
	tests := []struct {
		name string
		in   string
		// check inspects the only span on success.
		check func(*testing.T, *tracepb.Span)
		// wantErr is a substring of the error; "" means success.
		wantErr string
	}{
		{name: "camelCase", in: wrap(`{"traceId":"` + tid + `","spanId":"` + sid + `","kind":2}`),
			check: func(t *testing.T, s *tracepb.Span) {
				if string(s.TraceId) != string(wantTrace) || string(s.SpanId) != string(wantSpan) || s.Kind != tracepb.Span_SPAN_KIND_SERVER {
					t.Errorf("got %x %x %v", s.TraceId, s.SpanId, s.Kind)
				}
			}},
		{name: "snake_case and enum name", in: wrap(`{"trace_id":"` + tid + `","span_id":"` + sid + `","parent_span_id":"` + sid + `","kind":"SPAN_KIND_CLIENT"}`),
			check: func(t *testing.T, s *tracepb.Span) {
				if string(s.ParentSpanId) != string(wantSpan) || s.Kind != tracepb.Span_SPAN_KIND_CLIENT {
					t.Errorf("got parent %x kind %v", s.ParentSpanId, s.Kind)
				}
			}},
		{name: "upper-case hex", in: wrap(`{"traceId":"` + strings.ToUpper(tid) + `","spanId":"` + strings.ToUpper(sid) + `"}`),
			check: func(t *testing.T, s *tracepb.Span) {
				if string(s.TraceId) != string(wantTrace) {
					t.Errorf("trace id %x", s.TraceId)
				}
			}},
		{name: "escaped member name", in: wrap(`{"trace\u0049d":"` + tid + `","spanId":"` + sid + `"}`),
			check: func(t *testing.T, s *tracepb.Span) {
				if string(s.TraceId) != string(wantTrace) {
					t.Errorf("trace id %x", s.TraceId)
				}
			}},
		{name: "unknown fields ignored", in: wrap(`{"traceId":"` + tid + `","spanId":"` + sid + `","futureField":{"spanId":"zz"},"x":[1,2]}`),
			check: func(t *testing.T, s *tracepb.Span) {}},
		{name: "numbers as numbers", in: wrap(`{"traceId":"` + tid + `","spanId":"` + sid + `","startTimeUnixNano":1795789263608374775,"attributes":[{"key":"n","value":{"intValue":7}}]}`),
			check: func(t *testing.T, s *tracepb.Span) {
				if s.StartTimeUnixNano != 1795789263608374775 || s.Attributes[0].Value.GetIntValue() != 7 {
					t.Errorf("got %d %v", s.StartTimeUnixNano, s.Attributes)
				}
			}},
		{name: "attribute named like an id stays as is", in: wrap(`{"traceId":"` + tid + `","spanId":"` + sid + `","attributes":[{"key":"traceId","value":{"stringValue":"not-hex"}}]}`),
			check: func(t *testing.T, s *tracepb.Span) {
				if s.Attributes[0].Value.GetStringValue() != "not-hex" {
					t.Errorf("attribute changed: %v", s.Attributes[0])
				}
			}},
		{name: "link ids", in: wrap(`{"traceId":"` + tid + `","spanId":"` + sid + `","links":[{"traceId":"` + tid + `","spanId":"` + sid + `"}]}`),
			check: func(t *testing.T, s *tracepb.Span) {
				if string(s.Links[0].TraceId) != string(wantTrace) || string(s.Links[0].SpanId) != string(wantSpan) {
					t.Errorf("link %x %x", s.Links[0].TraceId, s.Links[0].SpanId)
				}
			}},
		{name: "empty parent", in: wrap(`{"traceId":"` + tid + `","spanId":"` + sid + `","parentSpanId":""}`),
			check: func(t *testing.T, s *tracepb.Span) {
				if len(s.ParentSpanId) != 0 {
					t.Errorf("parent %x", s.ParentSpanId)
				}
			}},
		{name: "not json", in: `resourceSpans`, wantErr: "json"},
		{name: "truncated", in: wrap(`{"traceId":"` + tid + `"`)[:40], wantErr: "json"},
		{name: "trailing garbage", in: `{}x`, wantErr: "json"},
		{name: "two documents", in: `{}{}`, wantErr: "json"},
		{name: "base64 id", in: wrap(`{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"` + sid + `"}`), wantErr: "not hex"},
		{name: "odd hex", in: wrap(`{"traceId":"` + tid[:31] + `","spanId":"` + sid + `"}`), wantErr: "hex digits"},
		{name: "short trace id", in: wrap(`{"traceId":"` + tid[:30] + `","spanId":"` + sid + `"}`), wantErr: "traceId has 15 bytes"},
		{name: "missing span id", in: wrap(`{"traceId":"` + tid + `"}`), wantErr: "spanId has 0 bytes"},
		{name: "short link span id", in: wrap(`{"traceId":"` + tid + `","spanId":"` + sid + `","links":[{"traceId":"` + tid + `","spanId":"00"}]}`), wantErr: "links[0].spanId has 1 bytes"},
		{name: "id not a string", in: wrap(`{"traceId":5,"spanId":"` + sid + `"}`), wantErr: "json"},
		{name: "wrong type", in: `{"resourceSpans":{}}`, wantErr: "json"},
		{name: "invalid utf8", in: "{\"resourceSpans\":[{\"schemaUrl\":\"\xff\"}]}", wantErr: "json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := decodeJSON([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("decodeJSON succeeded, want error containing %q", tc.wantErr)
				}
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error %v does not wrap ErrMalformed", err)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeJSON: %v", err)
			}
			spans := req.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			tc.check(t, spans[0])
		})
	}
}

func TestDecodeProtoErrors(t *testing.T) {
	mutate := func(f func(*tracepb.Span)) []byte {
		req := makeRequest(1, 2)
		f(req.ResourceSpans[0].ScopeSpans[0].Spans[1])
		return mustMarshal(t, req)
	}
	tests := []struct {
		name    string
		in      []byte
		wantErr string // "" means success
	}{
		{name: "valid", in: mustMarshal(t, makeRequest(1, 2))},
		{name: "empty message", in: nil},
		{name: "root span", in: mutate(func(s *tracepb.Span) { s.ParentSpanId = nil })},
		{name: "garbage", in: []byte{0xff, 0xff, 0xff}, wantErr: "protobuf"},
		{name: "truncated", in: mustMarshal(t, makeRequest(1, 2))[:50], wantErr: "protobuf"},
		{name: "long trace id", in: mutate(func(s *tracepb.Span) { s.TraceId = make([]byte, 17) }), wantErr: "spans[1].traceId has 17 bytes"},
		{name: "short parent", in: mutate(func(s *tracepb.Span) { s.ParentSpanId = []byte{1, 2, 3, 4} }), wantErr: "spans[1].parentSpanId has 4 bytes"},
		{name: "link without trace id", in: mutate(func(s *tracepb.Span) { s.Links[0].TraceId = nil }), wantErr: "links[0].traceId has 0 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeProto(tc.in)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("decodeProto: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("decodeProto succeeded, want error containing %q", tc.wantErr)
			case tc.wantErr != "":
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q: want ErrMalformed containing %q", err, tc.wantErr)
				}
			}
			var idErr *otlp.IDError
			if strings.Contains(tc.wantErr, "bytes") && !errors.As(err, &idErr) {
				t.Errorf("error %v is not an *IDError", err)
			}
		})
	}
}

// TestProtoKeepsUnknownFields: fields this build does not know are forwarded.
func TestProtoKeepsUnknownFields(t *testing.T) {
	b := mustMarshal(t, makeRequest(3, 1))
	// Field 99, varint 5, appended at the top level.
	b = append(b, 0x98, 0x06, 0x05)
	req, err := decodeProto(b)
	if err != nil {
		t.Fatal(err)
	}
	out := mustMarshal(t, req)
	if string(out[len(out)-3:]) != string([]byte{0x98, 0x06, 0x05}) {
		t.Errorf("unknown field lost: re-encoded message ends %x", out[len(out)-3:])
	}
}
