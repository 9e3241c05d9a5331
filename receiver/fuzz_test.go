package receiver

import (
	"errors"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// FuzzDecodeJSON checks the OTLP/JSON decoder: it never panics, every
// failure is ErrMalformed, and whatever it accepts survives a round trip
// through OTLP/JSON and through protobuf unchanged.
func FuzzDecodeJSON(f *testing.F) {
	// Seeds stay small so mutation and minimisation stay fast; the whole
	// fixture is covered by TestDecodeJSONFixture.
	f.Add(encodeJSON(f, fixtureSubset(f, 1)))
	f.Add(encodeJSON(f, makeRequest(1, 1)))
	for _, s := range []string{
		`{}`,
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","links":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]}]}`,
		`{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"5B8EFFF798038103D269B633813FC60C","span_id":"EEE19B7EC3C1B174","kind":"SPAN_KIND_SERVER"}]}]}]}`,
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"","spanId":"00"}]}]}]}`,
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","attributes":[{"key":"d","value":{"doubleValue":"NaN"}}]}]}]}]}`,
		`{"resourceSpans":null}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, ok := accepted(t, decodeJSON, b)
		if !ok {
			return
		}
		roundTrip(t, "OTLP/JSON", decodeJSON, encodeJSON(t, req), req)
		roundTrip(t, "protobuf", decodeProto, mustMarshal(t, req), req)
	})
}

// FuzzDecodeProto checks the protobuf decoder the same way, and that what
// it accepts means the same in OTLP/JSON (ids in hex and back).
func FuzzDecodeProto(f *testing.F) {
	f.Add(mustMarshal(f, fixtureSubset(f, 2)))
	f.Add(mustMarshal(f, makeRequest(1, 1)))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, ok := accepted(t, decodeProto, b)
		if !ok {
			return
		}
		roundTrip(t, "protobuf", decodeProto, mustMarshal(t, req), req)
		// OTLP/JSON carries no unknown fields; compare without them.
		known := new(collectortrace.ExportTraceServiceRequest)
		if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, known); err != nil {
			t.Fatalf("decodes with unknown fields but not without: %v", err)
		}
		roundTrip(t, "OTLP/JSON", decodeJSON, encodeJSON(t, known), known)
	})
}

type decoder func([]byte) (*collectortrace.ExportTraceServiceRequest, error)

// accepted decodes b; a failure must be ErrMalformed (ok false then).
func accepted(t *testing.T, decode decoder, b []byte) (req *collectortrace.ExportTraceServiceRequest, ok bool) {
	t.Helper()
	req, err := decode(b)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		return nil, false
	}
	return req, true
}

// roundTrip fails t unless encoded (want, encoded as format) decodes to
// want again.
func roundTrip(t *testing.T, format string, decode decoder, encoded []byte, want *collectortrace.ExportTraceServiceRequest) {
	t.Helper()
	got, err := decode(encoded)
	if err != nil {
		t.Fatalf("%s of an accepted message does not decode: %v", format, err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("%s round trip changed the message", format)
	}
}

// fixtureSubset returns the real vLLM fixture cut to n spans per resource.
func fixtureSubset(f *testing.F, n int) *collectortrace.ExportTraceServiceRequest {
	req, err := decodeJSON(readFixture(f, "llm_request.otlp.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			ss.Spans = ss.Spans[:min(n, len(ss.Spans))]
		}
	}
	return req
}
