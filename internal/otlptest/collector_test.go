package otlptest

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func request(spans int) *coltracepb.ExportTraceServiceRequest {
	ss := &tracepb.ScopeSpans{}
	for i := range spans {
		ss.Spans = append(ss.Spans, &tracepb.Span{TraceId: bytes.Repeat([]byte{1}, 16), SpanId: []byte{0, 0, 0, 0, 0, 0, 0, byte(i + 1)}, Name: "s"})
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{ss}}}}
}

func dial(t *testing.T, c *Collector) coltracepb.TraceServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(c.GRPCEndpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return coltracepb.NewTraceServiceClient(conn)
}

func postHTTP(t *testing.T, c *Collector, req *coltracepb.ExportTraceServiceRequest) (int, string) {
	t.Helper()
	body, _ := proto.Marshal(req)
	resp, err := http.Post(c.HTTPURL(), "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func TestCollector(t *testing.T) {
	for _, discard := range []bool{false, true} {
		c, err := Start(Options{Discard: discard, MaxRecvBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cl := dial(t, c)

		if _, err := cl.Export(ctx, request(3)); err != nil {
			t.Fatal(err)
		}
		if code, _ := postHTTP(t, c, request(2)); code != 200 {
			t.Fatalf("HTTP status %d", code)
		}
		c.FailNext(2, Failure{Code: codes.Unavailable, HTTPStatus: 503, RetryAfter: 2 * time.Second})
		if _, err := cl.Export(ctx, request(1)); status.Code(err) != codes.Unavailable {
			t.Fatalf("injected failure: %v", err)
		}
		if code, ra := postHTTP(t, c, request(1)); code != 503 || ra != "2" {
			t.Fatalf("injected HTTP failure: %d, Retry-After %q", code, ra)
		}
		if _, err := cl.Export(ctx, request(200)); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("over-size request: %v", err)
		}
		c.PartialSuccessNext(1, 4, "nope")
		resp, err := cl.Export(ctx, request(1))
		if err != nil || resp.GetPartialSuccess().GetRejectedSpans() != 4 {
			t.Fatalf("partial success: %v %v", resp, err)
		}
		if err := c.WaitSpans(ctx, 6); err != nil {
			t.Fatal(err)
		}
		st := c.Stats()
		want := Stats{Requests: 3, Spans: 6, Failed: 2, TooLarge: 1, MaxBytes: proto.Size(request(200)), Rejected: 4, GRPCRequests: 4, HTTPRequests: 2}
		if st != want {
			t.Fatalf("discard=%v: stats %+v, want %+v", discard, st, want)
		}
		if n := len(c.Requests()); discard && n != 0 || !discard && n != 3 {
			t.Fatalf("discard=%v: %d requests kept", discard, n)
		}

		c.Down()
		if _, err := http.Post(c.HTTPURL(), "application/x-protobuf", nil); err == nil {
			t.Fatal("HTTP still answers while down")
		}
		if err := c.Up(); err != nil {
			t.Fatal(err)
		}
		if code, _ := postHTTP(t, c, request(1)); code != 200 {
			t.Fatalf("after Up: HTTP %d", code)
		}
		// The client may still hold the transport the server closed in Down
		// and learn that only from this call (Unavailable, "error reading
		// from server: EOF"), as any OTLP exporter does, which retries
		// Unavailable: so does this test, for a bounded time.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := cl.Export(ctx, request(1), grpc.WaitForReady(true))
			if err == nil {
				break
			}
			if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
				t.Fatalf("after Up: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestDecodeJSON: the HTTP endpoint reads OTLP/JSON as the specification
// writes it (hex ids, 64-bit integers as strings, enums as integers) and
// refuses ids of the wrong length, unknown fields and trailing data.
func TestDecodeJSON(t *testing.T) {
	const span = `"traceId":"000102030405060708090A0B0C0D0E0F","spanId":"0001020304050607","parentSpanId":"",` +
		`"name":"s","kind":2,"startTimeUnixNano":"1795789263608374775","endTimeUnixNano":"1795789263608374776",` +
		`"attributes":[{"key":"n","value":{"intValue":"-9007199254740993"}},{"key":"d","value":{"doubleValue":0.1}}],` +
		`"links":[{"traceId":"0f0e0d0c0b0a09080706050403020100","spanId":"0706050403020100"}]`
	doc := func(s string) string { return `{"resourceSpans":[{"scopeSpans":[{"spans":[{` + s + `}]}]}]}` }
	req, err := decodeJSON([]byte(doc(span)))
	if err != nil {
		t.Fatal(err)
	}
	s := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	if !bytes.Equal(s.TraceId, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) || !bytes.Equal(s.SpanId, []byte{0, 1, 2, 3, 4, 5, 6, 7}) ||
		len(s.ParentSpanId) != 0 || s.Kind != tracepb.Span_SPAN_KIND_SERVER || s.StartTimeUnixNano != 1795789263608374775 ||
		s.Attributes[0].Value.GetIntValue() != -9007199254740993 || s.Attributes[1].Value.GetDoubleValue() != 0.1 ||
		!bytes.Equal(s.Links[0].SpanId, []byte{7, 6, 5, 4, 3, 2, 1, 0}) {
		t.Fatalf("decoded %v", s)
	}
	for _, bad := range []string{
		doc(`"traceId":"0001","spanId":"0001020304050607"`),
		doc(`"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"AAECAwQFBgc="`),
		doc(`"traceId":"000102030405060708090a0b0c0d0e0f","spanId":7`),
		doc(span + `,"spanID":"0001020304050607"`),
		doc(span) + `{}`,
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"links":[{"traceId":"00"}]}]}]}]}`,
	} {
		if _, err := decodeJSON([]byte(bad)); err == nil {
			t.Errorf("decodeJSON(%s) succeeded", bad)
		}
	}
}
