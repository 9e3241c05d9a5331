package converter

import (
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// TestIDsDependOnTheExport: the same file converted with the same settings
// gives the same ids (a retry), under another service.name or resource
// attribute ids that share nothing with the first export.
func TestIDsDependOnTheExport(t *testing.T) {
	data := readFile(t, "testdata/golden/era_e_full.json")
	conv := func(res ...span.Attr) map[string]bool {
		opts := DefaultOptions()
		opts.Resource = res
		c, _, err := convertBytes(t, data, opts)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, s := range c.spans {
			ids["t"+s.TraceID.String()] = true
			ids["s"+s.SpanID.String()] = true
		}
		return ids
	}
	base := conv(span.String("service.name", "vllm"))
	retry := conv(span.String("service.name", "vllm"))
	if len(base) == 0 || len(base) != len(retry) {
		t.Fatalf("retry gave %d ids, first export %d", len(retry), len(base))
	}
	for id := range base {
		if !retry[id] {
			t.Fatalf("retry lacks id %s", id)
		}
	}
	for _, other := range [][]span.Attr{
		{span.String("service.name", "vllm-b")},
		{span.String("service.name", "vllm"), span.String("deployment.environment", "staging")},
	} {
		for id := range conv(other...) {
			if base[id] {
				t.Errorf("resource %v shares id %s with service.name=vllm", other, id)
			}
		}
	}
}
