package receiver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// sink is a Consumer that records every call; fail, when set, decides the
// answer to each call.
type sink struct {
	mu    sync.Mutex
	got   [][]*tracepb.ResourceSpans
	calls chan struct{}
	fail  func() error
}

func newSink() *sink { return &sink{calls: make(chan struct{}, 1024)} }

// failingSink is a sink whose every call returns err (nil: none fails).
func failingSink(err error) *sink {
	s := newSink()
	if err != nil {
		s.fail = func() error { return err }
	}
	return s
}

func (s *sink) ConsumeTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	if s.fail != nil {
		if err := s.fail(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.got = append(s.got, rs)
	s.mu.Unlock()
	select {
	case s.calls <- struct{}{}:
	default:
	}
	return nil
}

// requests returns what the sink received, one request per element.
func (s *sink) requests() []*collectortrace.ExportTraceServiceRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*collectortrace.ExportTraceServiceRequest, len(s.got))
	for i, rs := range s.got {
		out[i] = &collectortrace.ExportTraceServiceRequest{ResourceSpans: rs}
	}
	return out
}

// testConfig listens on loopback port 0 for both transports.
func testConfig() Config {
	c := DefaultConfig()
	c.GRPCAddr = "127.0.0.1:0"
	c.HTTPAddr = "127.0.0.1:0"
	return c
}

// startReceiver builds and starts a receiver and stops it at the end of the
// test.
func startReceiver(t testing.TB, cfg Config, c Consumer) *Receiver {
	t.Helper()
	r := startedReceiver(t, cfg, c)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return r
}

// startedReceiver builds and starts a receiver that the test shuts down
// itself.
func startedReceiver(t testing.TB, cfg Config, c Consumer) *Receiver {
	t.Helper()
	r, err := New(cfg, c, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return r
}

// makeRequest builds a request of nSpans spans with every kind of field
// set, ids derived from seed so tests can tell requests apart.
func makeRequest(seed uint64, nSpans int) *collectortrace.ExportTraceServiceRequest {
	spans := make([]*tracepb.Span, nSpans)
	for i := range spans {
		key := seed<<20 | uint64(i)
		spans[i] = &tracepb.Span{
			TraceId:           traceID(seed),
			SpanId:            spanID(key),
			ParentSpanId:      spanID(key ^ 0xffff),
			TraceState:        "vendor=x",
			Name:              "llm_request",
			Kind:              tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: 1795789263608374775 + uint64(i)*1000,
			EndTimeUnixNano:   1795789265356425377 + uint64(i)*1000,
			Attributes: []*commonpb.KeyValue{
				{Key: "gen_ai.request.id", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fmt.Sprintf("chatcmpl-%016x", key)}}},
				{Key: "gen_ai.latency.e2e", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.748050602}}},
				{Key: "gen_ai.usage.prompt_tokens", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 21}}},
				{Key: "bytes", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2, 0xff}}}},
				{Key: "list", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
					{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}}}}}},
			},
			Events: []*tracepb.Span_Event{{TimeUnixNano: 1795789263608374776, Name: "first_token"}},
			Links:  []*tracepb.Span_Link{{TraceId: traceID(seed + 1), SpanId: spanID(key + 1), Flags: 0x100}},
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK},
			Flags:  0x301,
		}
	}
	return &collectortrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "vllm"}}},
		}},
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope:     &commonpb.InstrumentationScope{Name: "vllm.llm_engine", Version: "1"},
			Spans:     spans,
			SchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
		}},
	}}}
}

func traceID(k uint64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, k|1<<63)
	binary.BigEndian.PutUint64(b[8:], k*0x9e3779b97f4a7c15)
	return b
}

func spanID(k uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, k|1<<62)
	return b
}

// encodeJSON writes m as OTLP/JSON: protojson, with the trace and span ids
// turned from base64 into hex.
func encodeJSON(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatalf("protojson: %v", err)
	}
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	var out bytes.Buffer
	enc := jsontext.NewEncoder(&out)
	idValue := false
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("re-reading protojson output: %v", err)
		}
		if idValue && tok.Kind() == '"' {
			raw, err := base64.StdEncoding.DecodeString(tok.String())
			if err != nil {
				t.Fatalf("id not base64: %v", err)
			}
			tok = jsontext.String(hex.EncodeToString(raw))
		}
		idValue = false
		if tok.Kind() == '"' {
			if kind, n := dec.StackIndex(dec.StackDepth()); kind == '{' && n%2 == 1 && isJSONIDField(tok.String()) {
				idValue = true
			}
		}
		if err := enc.WriteToken(tok); err != nil {
			t.Fatalf("write token: %v", err)
		}
	}
	return out.Bytes()
}

// isJSONIDField reports whether protojson.Marshal writes name's value in
// base64 where OTLP/JSON writes hex (the tests' own list, not the codec's).
func isJSONIDField(name string) bool {
	return name == "traceId" || name == "spanId" || name == "parentSpanId"
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// grpcClient dials addr without TLS.
func grpcClient(t testing.TB, addr string, opts ...grpc.DialOption) collectortrace.TraceServiceClient {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return collectortrace.NewTraceServiceClient(cc)
}

// httpResult is an OTLP/HTTP answer.
type httpResult struct {
	code        int
	contentType string
	retryAfter  string
	body        []byte
}

// postHTTP sends body to url with the given headers.
func postHTTP(t testing.TB, client *http.Client, url string, body []byte, headers map[string]string) httpResult {
	t.Helper()
	res, err := tryPostHTTP(client, url, body, headers)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return res
}

func tryPostHTTP(client *http.Client, url string, body []byte, headers map[string]string) (httpResult, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return httpResult{}, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return httpResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return httpResult{}, err
	}
	return httpResult{code: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), retryAfter: resp.Header.Get("Retry-After"), body: b}, nil
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/h100/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var errBoom = errors.New("backend down")

func grpcClientFromConn(cc *grpc.ClientConn) collectortrace.TraceServiceClient {
	return collectortrace.NewTraceServiceClient(cc)
}
