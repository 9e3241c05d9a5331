package vllmlog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDecodeOTLPJSON: a real vLLM export of 112 spans (56
// llm_request) read as a file of llm_request spans.
func BenchmarkDecodeOTLPJSON(b *testing.B) {
	js, err := os.ReadFile(filepath.Join("..", "testdata", "h100", "llm_request.otlp.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(js)))
	b.ReportAllocs()
	for b.Loop() {
		spans, err := DecodeOTLPJSON(bytes.NewReader(js), OTLPOptions{})
		if err != nil || len(spans) != 56 {
			b.Fatal(len(spans), err)
		}
	}
}
