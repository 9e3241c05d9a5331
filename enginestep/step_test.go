package enginestep

import (
	"fmt"
	"testing"
)

func TestParseAnnotation(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		kind Kind
		reqs int
		ctx  [2]int
		gen  [2]int
	}{
		{"execute_context_0(0)_generation_16(16)", true, KindDecode, 16, [2]int{0, 0}, [2]int{16, 16}},
		{"execute_context_2(812)_generation_7(7)", true, KindMixed, 9, [2]int{2, 812}, [2]int{7, 7}},
		{"execute_context_3(300)_generation_0(0)", true, KindPrefill, 3, [2]int{3, 300}, [2]int{0, 0}},
		{"execute_context_0(0)_generation_0(0)", true, KindEmpty, 0, [2]int{0, 0}, [2]int{0, 0}},
		{"execute_new_2_cached_5", true, KindExecute, 7, [2]int{Unknown, Unknown}, [2]int{Unknown, Unknown}},
		{"ProfilerStep#12", true, KindProfilerStep, Unknown, [2]int{Unknown, Unknown}, [2]int{Unknown, Unknown}},
		{"execute_context_2(812)_generation_7(7)x", false, "", 0, [2]int{}, [2]int{}},
		{"execute_context_(1)_generation_7(7)", false, "", 0, [2]int{}, [2]int{}},
		{"execute_new_a_cached_5", false, "", 0, [2]int{}, [2]int{}},
		{"ProfilerStep#", false, "", 0, [2]int{}, [2]int{}},
		{"aten::mm", false, "", 0, [2]int{}, [2]int{}},
		{"", false, "", 0, [2]int{}, [2]int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := ParseAnnotation(tc.name)
			if ok != tc.ok {
				t.Fatalf("ok=%v want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if a.Kind != tc.kind || a.Requests() != tc.reqs {
				t.Fatalf("kind=%s reqs=%d, want %s %d", a.Kind, a.Requests(), tc.kind, tc.reqs)
			}
			if a.ContextRequests != tc.ctx[0] || a.ContextTokens != tc.ctx[1] ||
				a.GenerationRequests != tc.gen[0] || a.GenerationTokens != tc.gen[1] {
				t.Fatalf("counts %+v", a)
			}
		})
	}
}

func FuzzParseAnnotation(f *testing.F) {
	for _, s := range []string{"execute_context_0(0)_generation_16(16)", "execute_new_2_cached_5", "ProfilerStep#3", "execute_context_9(99999999999)_generation_1(1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := ParseAnnotation(s)
		if ok && a.Kind == "" {
			t.Fatalf("accepted %q without a kind", s)
		}
	})
}

func TestAppendAttrsKeepsOnlyKnownCounts(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"execute_context_2(812)_generation_7(7)", []string{"vllm.step.context_requests=2", "vllm.step.context_tokens=812", "vllm.step.generation_requests=7", "vllm.step.generation_tokens=7"}},
		{"execute_new_2_cached_5", []string{"vllm.step.new_requests=2", "vllm.step.cached_requests=5"}},
		{"ProfilerStep#12", []string{"pytorch.profiler_step=12"}},
	}
	for _, tc := range tests {
		a, ok := ParseAnnotation(tc.name)
		if !ok {
			t.Fatalf("%s not parsed", tc.name)
		}
		got := a.AppendAttrs(nil)
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d attrs, want %d", tc.name, len(got), len(tc.want))
		}
		for i, at := range got {
			if s := fmt.Sprintf("%s=%d", at.Key, at.Value.Num); s != tc.want[i] {
				t.Errorf("%s: attr %d = %s, want %s", tc.name, i, s, tc.want[i])
			}
		}
	}
}
