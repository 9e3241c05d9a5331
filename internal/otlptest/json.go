package otlptest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// decodeJSON reads an OTLP/JSON request body with protojson (the protobuf
// project's canonical JSON decoder for the go.opentelemetry.io/proto/otlp
// types), independently of the bridge's own codec (package otlp), so that
// the tests that check the bridge's OTLP/JSON output do not read it back
// with the code under test.
//
// OTLP/JSON differs from the canonical mapping in one point: span and link
// ids are hex, where protojson expects base64 (opentelemetry-proto,
// docs/specification.md, "JSON Protobuf Encoding"). So the document is
// first read generically (numbers kept as written), every id found at its
// place in the OTLP layout is checked for its length and re-encoded in
// base64, and the re-marshalled document goes to protojson, which refuses
// unknown fields: a misspelt field name in the bridge's output fails here.
func decodeJSON(data []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("otlptest: OTLP/JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("otlptest: OTLP/JSON body: data after the request object")
	}
	for _, rs := range objects(doc["resourceSpans"]) {
		for _, ss := range objects(rs["scopeSpans"]) {
			for _, sp := range objects(ss["spans"]) {
				if err := hexToBase64(sp, map[string]int{"traceId": 16, "spanId": 8, "parentSpanId": 8}); err != nil {
					return nil, err
				}
				for _, l := range objects(sp["links"]) {
					if err := hexToBase64(l, map[string]int{"traceId": 16, "spanId": 8}); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	canon, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("otlptest: re-encoding an OTLP/JSON body: %w", err)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := protojson.Unmarshal(canon, req); err != nil {
		return nil, fmt.Errorf("otlptest: OTLP/JSON body: %w", err)
	}
	return req, nil
}

// objects returns the JSON objects of an array value (nil for anything
// else, which protojson then judges).
func objects(v any) []map[string]any {
	arr, _ := v.([]any)
	var out []map[string]any
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// hexToBase64 rewrites the id members of obj named in lens from hex to
// base64, checking that each has its length in bytes; a parentSpanId may
// also be empty.
func hexToBase64(obj map[string]any, lens map[string]int) error {
	for name, n := range lens {
		v, ok := obj[name]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("otlptest: OTLP/JSON %s is %T, want a hex string", name, v)
		}
		id, err := hex.DecodeString(s)
		if err != nil {
			return fmt.Errorf("otlptest: OTLP/JSON %s %q: %w", name, s, err)
		}
		if len(id) != n && !(name == "parentSpanId" && len(id) == 0) {
			return fmt.Errorf("otlptest: OTLP/JSON %s %q has %d bytes, want %d", name, s, len(id), n)
		}
		obj[name] = base64.StdEncoding.EncodeToString(id)
	}
	return nil
}
