package vllmlog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func TestParseJSONLine(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name    string
		line    string
		opts    JSONOptions
		kind    Kind
		time    int64
		res     int64
		process string
		err     error
	}{
		{"created float exact", `{"created": 1795789263.5461547, "asctime": "2026-11-27 14:21:03,546", "levelname": "INFO", "name": "vllm.v1.engine.async_llm", "message": "Added request chatcmpl-1-07d4bedc."}`,
			JSONOptions{}, KindAdded, 1795789263546154700, 100, "", nil},
		{"asctime in zone", `{"asctime": "2026-11-27 14:21:03,546", "message": "Added request a."}`,
			JSONOptions{Location: cet}, KindAdded, time.Date(2026, 11, 27, 14, 21, 3, 546e6, cet).UnixNano(), 1e6, "", nil},
		{"rfc3339 custom fields", `{"ts": "2026-11-27T14:21:03.5Z", "msg": "Request r-1 aborted."}`,
			JSONOptions{TimeFields: []string{"ts"}, MessageFields: []string{"msg"}}, KindAborted, time.Date(2026, 11, 27, 14, 21, 3, 5e8, time.UTC).UnixNano(), 1e8, "", nil},
		{"process prefix", `(APIServer pid=7) {"created": 2.0, "message": "Added request a."}`, JSONOptions{}, KindAdded, 2e9, 1e8, "APIServer", nil},
		{"not request", `{"created": 2.0, "message": "Engine 000: Avg prompt throughput"}`, JSONOptions{}, 0, 0, 0, "", ErrNotRequestLine},
		{"no message", `{"created": 2.0}`, JSONOptions{}, 0, 0, 0, "", ErrNotRequestLine},
		{"no time", `{"message": "Added request a."}`, JSONOptions{}, 0, 0, 0, "", ErrNoTime},
		{"not json", `INFO 11-27 14:21:03 [a.py:1] Added request a.`, JSONOptions{}, 0, 0, 0, "", ErrMalformed},
		{"broken json", `{"message": "Added request a.`, JSONOptions{}, 0, 0, 0, "", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseJSONLine([]byte(tc.line), tc.opts)
			if !wantRecord(t, err, tc.err) {
				return
			}
			if r.Kind != tc.kind || r.Time != tc.time || r.Resolution != tc.res || r.Process != tc.process {
				t.Fatalf("got %v %d res %d %q, want %v %d res %d %q", r.Kind, r.Time, r.Resolution, r.Process, tc.kind, tc.time, tc.res, tc.process)
			}
		})
	}
}

func TestDecodeOTLPJSON(t *testing.T) {
	spans := fixtureSpans(t)
	s := spans[0]
	if s.TraceID.String() != "24606309b0745e3fb8406baf99a52395" || s.SpanID.String() != "24d9d4d9b27eb1cd" ||
		s.ParentSpanID.String() != "c447a7759bd140c2" || s.Start != 1795789263608374775 || s.End != 1795789265356425377 {
		t.Fatalf("first span %+v", s)
	}
	if v, ok := span.Lookup(s.Attrs, "gen_ai.request.id"); !ok || v.Str != "chatcmpl-f1fd42a29755d4c1" {
		t.Fatalf("request id %v", v)
	}
	if v, ok := span.Lookup(s.Attrs, "gen_ai.usage.prompt_tokens"); !ok || v.Num != 21 {
		t.Fatalf("prompt tokens %v", v)
	}

	// base64 ids, numeric times, several documents, content attributes dropped.
	doc := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"AAECAwQFBgcICQoLDA0ODw==","spanId":"AQIDBAUGBwg=","name":"llm_request","startTimeUnixNano":5,"endTimeUnixNano":"6",
	"attributes":[{"key":"gen_ai.prompt","value":{"stringValue":"SECRET"}},{"key":"gen_ai.request.id","value":{"stringValue":"r"}},{"key":"http.method","value":{"stringValue":"POST"}},{"key":"gen_ai.request.n","value":{"intValue":2}}]},
	{"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0102030405060708","name":"other"}]}]}]}
	{"resourceSpans":[]}`
	spans, err := DecodeOTLPJSON(strings.NewReader(doc), OTLPOptions{})
	if err != nil || len(spans) != 1 {
		t.Fatalf("%v %d", err, len(spans))
	}
	if spans[0].TraceID.String() != "000102030405060708090a0b0c0d0e0f" || spans[0].Start != 5 || len(spans[0].Attrs) != 2 {
		t.Fatalf("%+v", spans[0])
	}
	for _, bad := range []string{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"0102030405060708","name":"llm_request"}]}]}]}`, `{"resourceSpans": [`,
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000000","spanId":"0102030405060708","name":"llm_request"}]}]}]}`} {
		if _, err := DecodeOTLPJSON(strings.NewReader(bad), OTLPOptions{}); !errors.Is(err, ErrBadOTLP) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func TestDetectFormat(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "h100", name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 4096 {
			b = b[:4096]
		}
		return b
	}
	tests := []struct {
		name string
		head []byte
		want Format
	}{
		{"text", read("vllm.log"), FormatText},
		{"jsonl", read("vllm.jsonl"), FormatJSONLines},
		{"otlp", read("llm_request.otlp.json"), FormatOTLPJSON},
		{"prefixed jsonl", []byte("(APIServer pid=7) {\"created\": 1}\n"), FormatJSONLines},
		{"text without prefix", []byte("INFO 11-27 14:21:03 [a.py:1] Starting\n"), FormatText},
		{"garbage", []byte("hello\nworld\n"), FormatUnknown},
		{"empty", nil, FormatUnknown},
	}
	for _, tc := range tests {
		if got := DetectFormat(tc.head); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, f := range []Format{FormatText, FormatJSONLines, FormatOTLPJSON} {
		if g, ok := ParseFormat(f.String()); !ok || g != f {
			t.Errorf("ParseFormat(%q)", f)
		}
	}
}

func FuzzDecodeOTLPJSON(f *testing.F) {
	f.Add(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0102030405060708","name":"llm_request","startTimeUnixNano":"5","endTimeUnixNano":6,"attributes":[{"key":"gen_ai.request.id","value":{"stringValue":"r"}},{"key":"gen_ai.usage.prompt_tokens","value":{"intValue":"3"}},{"key":"gen_ai.latency.e2e","value":{"doubleValue":"NaN"}},{"key":"gen_ai.x","value":{"arrayValue":{"values":[{"intValue":1}]}}}]}]}]}]}`)
	f.Add(`{"resourceSpans":[]}{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"AAECAwQFBgcICQoLDA0ODw==","spanId":"AQIDBAUGBwg=","name":"llm_request"}]}]}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		spans, err := DecodeOTLPJSON(strings.NewReader(doc), OTLPOptions{})
		if err != nil && !errors.Is(err, ErrBadOTLP) {
			t.Fatalf("unclassified error %v", err)
		}
		for _, s := range spans {
			if s.TraceID.IsZero() || s.SpanID.IsZero() {
				t.Fatalf("zero id accepted: %+v", s)
			}
			for _, a := range s.Attrs {
				if !strings.HasPrefix(a.Key, "gen_ai.") || !IsMetadataAttr(a.Key) ||
					strings.Contains(a.Key, "content") || strings.Contains(a.Key, "message") || strings.HasSuffix(a.Key, "token_ids") {
					t.Fatalf("attribute %q kept", a.Key)
				}
			}
		}
	})
}
