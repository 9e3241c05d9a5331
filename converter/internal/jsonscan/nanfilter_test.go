package jsonscan

import (
	"encoding/json"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// filterAll runs the NaN filter over in, split into chunks of n bytes.
func filterAll(in string, n int) (string, int64) {
	var f nanFilter
	var out []byte
	for i := 0; i < len(in); i += n {
		out = f.apply(out, []byte(in[i:min(len(in), i+n)]))
	}
	out = f.finish(out)
	return string(out), f.replaced
}

func TestNaNFilter(t *testing.T) {
	tests := []struct {
		in, want string
		n        int64
	}{
		{`{"a": NaN, "b": -nan, "c": inf}`, `{"a": "NaN", "b": "-nan", "c": "inf"}`, 3},
		{`[Infinity,-Infinity,null,true,false,1e5,-2.5,nanny]`, `["Infinity","-Infinity",null,true,false,1e5,-2.5,nanny]`, 2},
		{`{"s": "NaN inside \"nan\" string\\", "t": nan}`, `{"s": "NaN inside \"nan\" string\\", "t": "nan"}`, 1},
		{`{"x":nan}`, `{"x":"nan"}`, 1},
		{`nan`, `"nan"`, 1},
		{`{"n": -12345678901234567890, "m": -inf}`, `{"n": -12345678901234567890, "m": "-inf"}`, 1},
	}
	for _, tc := range tests {
		for _, chunk := range []int{1, 2, 3, 7, 1 << 20} {
			got, n := filterAll(tc.in, chunk)
			if got != tc.want || n != tc.n {
				t.Errorf("chunk %d: filter(%s) = %s (%d), want %s (%d)", chunk, tc.in, got, n, tc.want, tc.n)
			}
		}
	}
	// Valid JSON without NaN words passes byte for byte.
	raw := testkit.ReadFile(t, "../../testdata/golden/era_d.json")
	if got, n := filterAll(string(raw), 4096); got != string(raw) || n != 0 {
		t.Error("filter changed valid JSON")
	}
	if !json.Valid([]byte(tests[0].want)) {
		t.Error("filtered output is not valid JSON")
	}
}
