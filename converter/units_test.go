package converter

import (
	"bytes"
	"testing"
)

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
