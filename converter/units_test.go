package converter

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestParseMicrosToNs(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1712195495505583.047", 1712195495505583047, true},
		{"1694039968955744", 1694039968955744000, true},
		{"4932251280127.791", 4932251280127791, true},
		{"12.5", 12500, true},
		{"12.05", 12050, true},
		{"0.001", 1, true},
		{"0.0019", 1, true},
		{"-3.25", -3250, true},
		{"0", 0, true},
		{"1e3", 1000000, true},
		{"9.5e0", 9500, true},
		{"", 0, false},
		{"-", 0, false},
		{".", 0, false},
		{"inf", 0, false},
		{"nan", 0, false},
		{"N/A", 0, false},
		{"1.2.3", 0, false},
		{"12a", 0, false},
		{"99999999999999999999", 0, false},
		{"1e400", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseMicrosToNs([]byte(tc.in))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseMicrosToNs(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-17", -17, true}, {"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true}, {"9223372036854775808", 0, false},
		{"1.0", 0, false}, {"1e3", 0, false}, {"-", 0, false}, {"", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseInt([]byte(tc.in))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseIntArray(t *testing.T) {
	tests := []struct {
		in   string
		want []int64
		ok   bool
	}{
		{"[512, 1, 1]", []int64{512, 1, 1}, true},
		{"[]", nil, true},
		{"[ -1 ]", []int64{-1}, true},
		{"[1.5]", nil, false},
		{"[[1]]", nil, false},
		{`["a"]`, nil, false},
		{"[1,]", nil, false},
		{"[1", nil, false},
	}
	for _, tc := range tests {
		got, ok := parseIntArray([]byte(tc.in), nil)
		if ok != tc.ok || (ok && len(got) != len(tc.want)) {
			t.Errorf("parseIntArray(%q) = %v, %v", tc.in, got, ok)
			continue
		}
		for i := range tc.want {
			if got[i] != tc.want[i] {
				t.Errorf("parseIntArray(%q) = %v", tc.in, got)
			}
		}
	}
}

func TestShortKernelName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"void at::native::vectorized_gather_kernel<16, long>(char*, char*, long, long, long, long, long, bool)", "vectorized_gather_kernel"},
		{"ampere_sgemm_128x64_tn", "ampere_sgemm_128x64_tn"},
		{"ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)", "ncclDevKernel_AllReduce_Sum_bf16_RING_LL"},
		{"void (anonymous namespace)::softmax_warp_forward<float, float, float, 8, false, false>(float*, float const*, int, int, int, bool const*, int, bool)", "softmax_warp_forward"},
		{"void at::native::elementwise_kernel<128, 2, at::native::gpu_kernel_impl_nocast<at::native::(anonymous namespace)::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1}>(at::TensorIteratorBase&, at::native::(anonymous namespace)::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1} const&)::{lambda(int)#1}>(int, at::native::gpu_kernel_impl_nocast<at::native::(anonymous namespace)::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1}>(at::TensorIteratorBase&, at::native::(anonymous namespace)::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1} const&)::{lambda(int)#1})", "elementwise_kernel"},
		{"std::enable_if<!(false), void>::type internal::gemvx::kernel<int, int, float, float, float, float, false, true, true, false, 7, false, cublasGemvParamsEx<int, cublasGemvTensorStridedBatched<float const>, cublasGemvTensorStridedBatched<float const>, cublasGemvTensorStridedBatched<float>, float> >(cublasGemvParamsEx<int, cublasGemvTensorStridedBatched<float const>, cublasGemvTensorStridedBatched<float const>, cublasGemvTensorStridedBatched<float>, float>)", "gemvx::kernel"},
		{"triton_poi_fused_add_0", "triton_poi_fused_add_0"},
		{"sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas", "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_cublas"},
		{"void cutlass::Kernel2<cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_32x32_128x2_tn_align8>(cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_32x32_128x2_tn_align8::Params)", "cutlass::Kernel2"},
		{"void flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4, false, false, cutlass::bfloat16_t, Flash_kernel_traits<128, 128, 64, 4, cutlass::bfloat16_t> >, false, false, false, false, true, true, false>(Flash_fwd_params)", "flash_fwd_kernel"},
		{"broken<<<(", "broken"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := shortKernelName(tc.in); got != tc.want {
			t.Errorf("shortKernelName(%.60q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := string(bytes.Repeat([]byte("a"), 1000))
	if got := shortKernelName(long); len(got) > maxShortName+len("…") {
		t.Errorf("long name not bounded: %d bytes", len(got))
	}
}

func TestParsePythonFrame(t *testing.T) {
	tests := []struct {
		in   string
		want pyFrame
	}{
		{"vllm/v1/worker/gpu_worker.py(842): execute_model", pyFrame{"execute_model", "vllm/v1/worker/gpu_worker.py", 842}},
		{"/usr/lib/python3.12/threading.py(1010): run", pyFrame{"run", "/usr/lib/python3.12/threading.py", 1010}},
		{"a (b).py(3): f", pyFrame{"f", "a (b).py", 3}},
		{"nn.Module: Linear_0", pyFrame{function: "nn.Module: Linear_0"}},
		{"<built-in method cat of type object at 0x7f>", pyFrame{function: "<built-in method cat of type object>"}},
		{"x.py(7): <lambda> at 0xdeadBEEF", pyFrame{"<lambda>", "x.py", 7}},
		{"torch/_ops.py(x): f", pyFrame{function: "torch/_ops.py(x): f"}},
	}
	for _, tc := range tests {
		if got := parsePythonFrame(tc.in); got != tc.want {
			t.Errorf("parsePythonFrame(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestStripAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"<built-in method replay of CUDAGraph object at 0x7ffae17168f0>": "<built-in method replay of CUDAGraph object>",
		"<a object at 0x1> and <b object at 0xABC>":                      "<a object> and <b object>",
		"no address here":                       "no address here",
		"meet at 0xford":                        "meet at 0xford",
		"at 0x at 0x12":                         "at 0x",
		"<function <lambda> at 0x7f0000000000>": "<function <lambda>>",
	} {
		if got := stripAddresses(in); got != want {
			t.Errorf("stripAddresses(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOtherSpanName(t *testing.T) {
	for _, tc := range []struct {
		k        kind
		in, want string
	}{
		{kindGPUAnnot, "execute_context_1(192)_generation_15(15)", GPUStepSpanName},
		{kindGPUAnnot, "execute_new_2_cached_3", GPUStepSpanName},
		{kindGPUAnnot, "ProfilerStep#12", GPUStepSpanName},
		{kindGPUAnnot, "model.layers.0.self_attn", "gpu:model.layers.0.self_attn"},
		{kindGPUAnnot, "nccl:all_reduce", "gpu:nccl:all_reduce"},
		{kindPython, "<built-in method float of Tensor object at 0x7ff6ded20a50>", "<built-in method float of Tensor object>"},
	} {
		if got := otherSpanName(tc.k, tc.in); got != tc.want {
			t.Errorf("otherSpanName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSanitizeKey(t *testing.T) {
	for in, want := range map[string]string{
		"est. achieved occupancy %": "est_achieved_occupancy",
		"In msg nelems":             "in_msg_nelems",
		"Ev Idx":                    "ev_idx",
		"!!!":                       "_",
		"a__b":                      "a_b",
	} {
		if got := sanitizeKey(in); got != want {
			t.Errorf("sanitizeKey(%q) = %q, want %q", in, got, want)
		}
	}
}

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
	raw := readFile(t, "testdata/golden/era_d.json")
	if got, n := filterAll(string(raw), 4096); got != string(raw) || n != 0 {
		t.Error("filter changed valid JSON")
	}
	if !json.Valid([]byte(tests[0].want)) {
		t.Error("filtered output is not valid JSON")
	}
}
