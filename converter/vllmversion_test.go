package converter

import (
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// vLLM's vllm_version trace metadata becomes the vllm.version resource
// attribute (issue 16), and a trace without it gets none.
func TestVLLMVersionResource(t *testing.T) {
	const events = `"traceEvents":[
{"ph":"X","cat":"user_annotation","name":"execute_context_0(0)_generation_2(2)","pid":1,"tid":1,"ts":10,"dur":100},
{"ph":"X","cat":"cpu_op","name":"aten::mm","pid":1,"tid":1,"ts":20,"dur":10}]`
	for _, tc := range []struct{ doc, want string }{
		{`{"schemaVersion":1,"vllm_version":"0.11.1",` + events + `}`, "0.11.1"},
		{`{` + events + `,"vllm_version":"0.12.0rc1"}`, "0.12.0rc1"},
		{`{"schemaVersion":1,` + events + `}`, ""},
	} {
		c, _, err := convertBytes(t, []byte(tc.doc), DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		v, ok := span.Lookup(c.resource, "vllm.version")
		if got := v.Str; got != tc.want || ok != (tc.want != "") {
			t.Errorf("vllm.version = %q (present %v), want %q", got, ok, tc.want)
		}
	}
}
