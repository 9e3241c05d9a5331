package insights

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// example is a real kernel name and the class a performance engineer
// gives it. from names where it was seen: a fixture (testdata/h100,
// shared/fixtures/h100-tp2, converter/testdata/hta/<file>) or, for
// kernels of vLLM and PyTorch no fixture ran, the source that launches it.
type example struct {
	name, cat string
	want      Class
	from      string
}

const (
	h100  = "testdata/h100"
	tp2   = "fixtures/h100-tp2"
	ncclF = "hta/nccl_parser_config"
	nsres = "hta/ns_resolution_trace"
	filtr = "hta/trace_filter"
	crit  = "hta/critical_path"
	amd   = "hta/amd_trace"
	trit  = "hta/triton_example"
	vllm  = "vllm csrc (no fixture)"
	torch = "pytorch (no fixture)"
)

var examples = []example{
	// communication
	{"ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)", "kernel", ClassCommunication, tp2},
	{"ncclDevKernel_Broadcast_RING_LL(ncclDevKernelArgsStorage<4096ul>)", "kernel", ClassCommunication, tp2},
	{"ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)", "kernel", ClassCommunication, ncclF},
	{"ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)", "kernel", ClassCommunication, filtr},
	{"rcclGenericKernel<1>(ncclDevComm*, unsigned long, ncclWork*)", "kernel", ClassCommunication, torch},
	{"void vllm::cross_device_reduce_1stage<__nv_bfloat16, 2>(vllm::RankData*, vllm::RankSignals, vllm::Signal*, __nv_bfloat16*, int, int)", "kernel", ClassCommunication, vllm},
	{"void flashinfer::trtllm_allreduce_fusion::allreduce_fusion_kernel<true>(...)", "kernel", ClassCommunication, vllm},
	{"void vllm::all_reduce_kernel<float>(float*)", "kernel", ClassCommunication, vllm},
	{"all_gather_into_tensor_kernel", "kernel", ClassCommunication, torch},
	{"reduce_scatter_kernel", "kernel", ClassCommunication, torch},
	{"ReduceScatterKernel", "kernel", ClassCommunication, torch},
	{"AllGatherKernel", "kernel", ClassCommunication, torch},
	{"alltoall_kernel", "kernel", ClassCommunication, torch},
	{"nvshmemi_transfer_kernel", "kernel", ClassCommunication, torch},
	// memcpy, memset: by category, or by name
	{"Memcpy DtoD (Device -> Device)", "gpu_memcpy", ClassMemcpy, h100},
	{"Memcpy HtoD (Pageable -> Device)", "gpu_memcpy", ClassMemcpy, h100},
	{"Memcpy DtoH (Device -> Pageable)", "gpu_memcpy", ClassMemcpy, h100},
	{"Memcpy HtoD (Host -> Device)", "Memcpy", ClassMemcpy, amd},
	{"Memcpy DtoD (Device -> Device)", "kernel", ClassMemcpy, nsres},
	{"Memset (Device)", "gpu_memset", ClassMemset, h100},
	{"Memset (Device)", "kernel", ClassMemset, crit},
	// attention
	{"cudnn_generated_fort_native_sdpa_sm80_flash_fprop_wmma_f16_knob_35_16x128x128_1x4x1_cga1x1x1_kernel0_0", "kernel", ClassAttention, h100},
	{"cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16_knob_7_64x128x128_4x1x1_cga1x1x1_kernel0_0", "kernel", ClassAttention, h100},
	{"void flash_fwd_splitkv_kernel<Flash_fwd_kernel_traits<128, 64, 128, 4, false, false, cutlass::bfloat16_t>, true>(Flash_fwd_params)", "kernel", ClassAttention, vllm},
	{"fmha_cutlassF_bf16_aligned_64x128_rf_sm80(PyTorchMemEffAttention::AttentionKernel<cutlass::bfloat16_t, cutlass::arch::Sm80, true, 64, 128, 128, true, true>::Params)", "kernel", ClassAttention, torch},
	{"void vllm::paged_attention_v2_kernel<__nv_bfloat16, 128, 16>(...)", "kernel", ClassAttention, vllm},
	{"void vllm::reshape_and_cache_flash_kernel<__nv_bfloat16, __nv_bfloat16, (vllm::Fp8KVCacheDataType)0>(...)", "kernel", ClassAttention, vllm},
	{"_fwd_kernel_unified_attn", "kernel", ClassAttention, vllm},
	{"void paged_kv_copy(int)", "kernel", ClassAttention, vllm},
	// norm
	{"void cudnn::bn_bw_1C11_kernel_new<float, float, float2, 128, true, 1>(float, float, float, float, cudnnTensorStruct, float const*, cudnnTensorStruct, float const*)", "kernel", ClassNorm, nsres},
	{"void cudnn::bn_fw_tr_1C11_kernel_NCHW<float, float, int, 128, true, 1, true>(cudnnTensorStruct, float const*, cudnnTensorStruct, float*, float const*, float const*)", "kernel", ClassNorm, ncclF},
	{"void at::native::vectorized_elementwise_kernel<4, at::native::rsqrt_kernel_cuda(at::TensorIteratorBase&)::{lambda()#2}::operator()() const::{lambda()#2}::operator()() const::{lambda(float)#1}, std::array<char*, 2ul> >(int, float, std::array<char*, 2ul>)", "kernel", ClassNorm, h100},
	{"void vllm::rms_norm_kernel<c10::BFloat16, 8>(c10::BFloat16*, c10::BFloat16 const*, long, c10::BFloat16 const*, float, int, int)", "kernel", ClassNorm, vllm},
	{"void vllm::fused_add_rms_norm_kernel<c10::BFloat16, 8>(...)", "kernel", ClassNorm, vllm},
	{"triton_red_fused_add_rmsnorm_0", "kernel", ClassNorm, torch},
	{"void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<float, float>(int, float, float const*, float const*, float const*, float*, float*, float*)", "kernel", ClassNorm, torch},
	{"void cuApplyLayerNorm<float, float, float>(...)", "kernel", ClassNorm, torch},
	{"void at::native::(anonymous namespace)::group_norm_kernel<float>(...)", "kernel", ClassNorm, torch},
	{"void at::native::GroupNormKernel<float>(...)", "kernel", ClassNorm, torch},
	{"void at::native::batch_norm_collect_statistics_kernel<float>(...)", "kernel", ClassNorm, torch},
	{"void at::native::BatchNormForward<float>(...)", "kernel", ClassNorm, torch},
	// sampling
	{"void at::native::(anonymous namespace)::cunn_SoftMaxForward<4, float, float, float, at::native::(anonymous namespace)::SoftMaxForwardEpilogue>(float*, float const*, int)", "kernel", ClassSampling, h100},
	{"void at::native::mbtopk::computeBlockDigitCounts<float, unsigned int, unsigned int, 2>(at::cuda::detail::TensorInfo<float const, unsigned int>, unsigned int, unsigned int)", "kernel", ClassSampling, h100},
	{"void at::native::radixSortKVInPlace<2, -1, 32, 4, float, long, unsigned int>(at::cuda::detail::TensorInfo<float, unsigned int>, unsigned int)", "kernel", ClassSampling, h100},
	{"void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, at::native::ArgMaxOps<float>, unsigned int, long, 4, 4> >(at::native::ReduceOp<float, at::native::ArgMaxOps<float>, unsigned int, long, 4, 4>)", "kernel", ClassSampling, h100},
	{"void at::native::(anonymous namespace)::distribution_elementwise_grid_stride_kernel<float, 4, at::native::templates::cuda::uniform_and_transform<float, float, at::CUDAGeneratorImpl*>>(long, at::PhiloxCudaState)", "kernel", ClassSampling, h100},
	{"void cub::DeviceRadixSortOnesweepKernel<cub::DeviceRadixSortPolicy<long, int, int>::Policy800, false, long, int, int, int>(int*, int*, int*, int const*, long*)", "kernel", ClassSampling, filtr},
	{"void flashinfer::sampling::TopKTopPSamplingFromProbKernel<1024, (cub::BlockScanAlgorithm)0, 4>(...)", "kernel", ClassAttention, vllm}, // "flash" comes first: documented order
	{"void vllm::top_k_per_row(float const*, int*)", "kernel", ClassSampling, vllm},
	{"void vllm::apply_top_p_kernel(float*)", "kernel", ClassSampling, vllm},
	{"void at::native::(anonymous namespace)::sampleMultinomialOnce<float, float>(long*, long, int, float*, float*, int, int)", "kernel", ClassSampling, torch},
	{"void multinomial_with_replacement_kernel(int)", "kernel", ClassSampling, torch},
	{"void vllm::gumbel_noise_kernel(float*)", "kernel", ClassSampling, vllm},
	// gemm
	{"nvjet_sm90_tst_128x16_64x11_4x1_v_bz_NNT", "kernel", ClassGEMM, h100},
	{"void cublasLt::splitKreduce_kernel<32, 16, int, float, __nv_bfloat16, float, __nv_bfloat16, false, float, __nv_bfloat16, __nv_bfloat16, true, false, false, false>(cublasLt::cublasSplitKParams<float>)", "kernel", ClassGEMM, h100},
	{"ampere_sgemm_32x32_sliced1x4_tn", "kernel", ClassGEMM, crit},
	{"volta_sgemm_64x64_nt", "kernel", ClassGEMM, nsres},
	{"void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_256x64_16x4_nn_align4>(cutlass_80_tensorop_s1688gemm_256x64_16x4_nn_align4::Params)", "kernel", ClassGEMM, ncclF},
	{"void cutlass_cudnn_infer::Kernel<cutlass_tensorop_s1688dgrad_optimized_tf32_64x128_32x3_nhwc_align4>(cutlass_tensorop_s1688dgrad_optimized_tf32_64x128_32x3_nhwc_align4::Params)", "kernel", ClassGEMM, ncclF},
	{"sm80_xmma_fprop_implicit_gemm_indexed_tf32f32_tf32f32_f32_nhwckrsc_nchw_tilesize128x128x16_stage4_warpsize2x2x1_g1_tensor16x8x8_alignc4_execute_kernel_cudnn", "kernel", ClassGEMM, crit},
	{"Cijk_Alik_Bljk_SB_Bias_AS_SAV_UserArgs_MT64x16x32_MI16x16x1_SN_LDSB0_AFC1_AFEM1_AFEM1_ASEM1_CLR1_CADS0_EPS0_GRVWA2_GRVWB2_GSUAMB_ISA90a_IU1_K1", "kernel", ClassGEMM, amd},
	{"cudnn_infer_volta_scudnn_128x64_relu_medium_nn_v1", "kernel", ClassGEMM, nsres},
	{"void cudnn::winograd_nonfused::winogradForwardOutput4x4<float, float>(cudnn::winograd_nonfused::WinogradOutputParams<float, float>)", "kernel", ClassGEMM, nsres},
	{"void cudnn::detail::dgrad_engine<float, 512, 6, 5, 3, 3, 3, false>(int, int, int, float const*, int, float const*, int, float*, kernel_grad_params, unsigned long long)", "kernel", ClassGEMM, nsres},
	{"void wgrad_alg0_engine<float, 128, 6, 7, 3, 3, 5, false, 512>(int, int, int, float const*, int, float*, float const*, kernel_grad_params, unsigned long long)", "kernel", ClassGEMM, nsres},
	{"void fft2d_c2r_32x32<float, false, false, 0u, false, false>(float*, float2 const*, int, int, int, int, int, int, int, int, int, float, float, cudnn::reduced_divisor)", "kernel", ClassGEMM, crit},
	{"_ZN19cutlass_cudnn_train6KernelINS_4conv6kernel23ImplicitGemmConvolutionINS1_11threadblock22ImplicitGemmMultistageINS_4gemm9GemmShapeILi128ELi128ELi32EEE", "kernel", ClassGEMM, ncclF},
	{"void epilogue::impl::globalKernel<float, float, float, true, true>(int, int, long, float*, cublasLtEpilogue_t, int, float*, long)", "kernel", ClassGEMM, crit},
	{"void gemv2T_kernel_val<int, int, float, float, float, float, 128, 16, 4, 4, false, false>(cublasGemvParamsEx<int, cublasGemvTensorStridedBatched<float const>>)", "kernel", ClassGEMM, torch},
	{"void gemmk1_kernel<int, float, 256, 5, false>(cublasGemmk1Params<float>)", "kernel", ClassGEMM, torch},
	{"triton_tem_fused_addmm_0", "kernel", ClassGEMM, torch},
	{"void vllm::cutlass_scaled_mm_sm90(...)", "kernel", ClassGEMM, vllm},
	{"_w8a8_block_fp8_matmul", "kernel", ClassGEMM, vllm},
	{"void bmm_kernel(int)", "kernel", ClassGEMM, torch},
	{"void xmma_cudnn::implicit_gemm::fprop_convolution(int)", "kernel", ClassGEMM, torch},
	// elementwise
	{"void at::native::vectorized_gather_kernel<16, long>(char*, char*, long*, int, long, long, long, long, bool)", "kernel", ClassElementwise, h100},
	{"void at::native::elementwise_kernel<128, 4, at::native::gpu_kernel_impl<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1}> >(int, at::native::gpu_kernel_impl)", "kernel", ClassElementwise, h100},
	{"void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, at::native::MeanOps<float, float, float, float>, unsigned int, float, 4, 4> >(at::native::ReduceOp<float, at::native::MeanOps<float, float, float, float>, unsigned int, float, 4, 4>)", "kernel", ClassElementwise, h100},
	{"void at::native::index_elementwise_kernel<128, 4, at::native::gpu_index_kernel<at::native::index_put_kernel_impl<at::native::OpaqueType<2> >(at::TensorIterator&)> >(long)", "kernel", ClassElementwise, h100},
	{"void at::native::(anonymous namespace)::indexSelectSmallIndex<c10::BFloat16, long, unsigned int, 2, 2, -2>(at::cuda::detail::TensorInfo<c10::BFloat16, unsigned int>)", "kernel", ClassElementwise, h100},
	{"void (anonymous namespace)::elementwise_kernel_with_index<int, at::native::arange_cuda_out(c10::Scalar const&, c10::Scalar const&, c10::Scalar const&, at::Tensor&)>(int)", "kernel", ClassElementwise, h100},
	{"void at_cuda_detail::cub::detail::scan_by_key::DeviceScanByKeyKernel<at_cuda_detail::cub::detail::scan_by_key::policy_hub<int>>(int)", "kernel", ClassElementwise, h100},
	{"void at::native::(anonymous namespace)::CatArrayBatchedCopy_vectorized<at::native::(anonymous namespace)::OpaqueType<2u>, unsigned int, 1, 128, 1, 16, 8>(char*)", "kernel", ClassElementwise, h100},
	{"void at::native::_scatter_gather_elementwise_kernel<128, 8, at::native::_cuda_scatter_gather_internal_kernel<false, at::native::OpaqueType<8>, long>::operator()>(int)", "kernel", ClassElementwise, h100},
	{"triton_poi_fused_add_cos_sin_0", "kernel", ClassElementwise, trit},
	{"triton_red_fused_sum_0", "kernel", ClassElementwise, torch},
	{"triton_per_fused_mean_0", "kernel", ClassElementwise, torch},
	{"void cudnn::ops::nchwToNhwcKernel<float, float, float, false, true, (cudnnKernelDataType_t)2>(cudnn::ops::nchw2nhwc_params_t<float>, float const*, float*)", "kernel", ClassElementwise, ncclF},
	{"void cudnn::ops::nhwcToNchwKernel<float, float, float, true, false, (cudnnKernelDataType_t)0>(cudnn::ops::nhwc2nchw_params_t<float>, float const*, float*)", "kernel", ClassElementwise, ncclF},
	{"void at::native::(anonymous namespace)::max_pool_forward_nchw<float, float>(int, float const*, long, long, long, int, int)", "kernel", ClassElementwise, crit},
	{"void at::native::(anonymous namespace)::fused_dropout_kernel_vec<float, float, unsigned int, 1, 4, bool>(at::cuda::detail::TensorInfo<float, unsigned int>)", "kernel", ClassElementwise, crit},
	{"void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous namespace)::TensorListMetadata<2>, at::native::(anonymous namespace)::BinaryOpScalarFunctor<float, 2, 1, 1>, std::plus<float>, float>(int)", "kernel", ClassElementwise, amd},
	{"void split_embedding_codegen_forward_unweighted_kernel<c10::Half, c10::Half, float, false, long, 2ul, 32ul>(at::GenericPackedTensorAccessor<c10::Half, 1ul, at::RestrictPtrTraits, long>)", "kernel", ClassElementwise, filtr},
	{"void permute_pooled_embs_kernel<float>(float const*, long const*, long const*, long const*, float*, long, long, long)", "kernel", ClassElementwise, filtr},
	{"void bounds_check_indices_kernel<long, false>(at::GenericPackedTensorAccessor<long, 1ul, at::RestrictPtrTraits, int>)", "kernel", ClassElementwise, filtr},
	{"void fbgemm_gpu::(anonymous namespace)::_compute_FP8_quantize_cuda_kernel<float>(float const*, float const*, int, int, unsigned char*, bool)", "kernel", ClassElementwise, filtr},
	{"void fbgemm_gpu::(anonymous namespace)::_get_FP8_qparam_cuda_kernel<float>(float const*, int, int, unsigned char*, float*, bool)", "kernel", ClassElementwise, filtr},
	{"void cudnn::ops::scalePackedTensor_kernel<float, float>(long, float*, float)", "kernel", ClassElementwise, nsres},
	{"void at::native::(anonymous namespace)::GammaBetaBackwardCUDAKernel<float, float>(long, long, float const*, float const*, float const*, float const*, float*, float*)", "kernel", ClassNorm, filtr},
	{"void at::native::(anonymous namespace)::RowwiseMomentsCUDAKernel<float, float>(long, float, float const*, float*, float*)", "kernel", ClassNorm, filtr},
	{"void fbgemm_gpu::(anonymous namespace)::_FP8rowwise_to_float_cuda_kernel<float>(unsigned char const*, int, int, float*, bool)", "kernel", ClassElementwise, filtr},
	{"void vllm::act_and_mul_kernel<c10::BFloat16, &vllm::silu_kernel<c10::BFloat16>, true>(c10::BFloat16*, c10::BFloat16 const*, int)", "kernel", ClassElementwise, vllm},
	{"void vllm::gelu_new_kernel(float*)", "kernel", ClassElementwise, vllm},
	{"void silu_mul_fp8(float*)", "kernel", ClassElementwise, vllm},
	{"void at::native::fill_kernel(float*)", "kernel", ClassElementwise, torch},
	{"void at::native::batched_transpose(float*)", "kernel", ClassElementwise, torch},
	{"void vllm::rotary_embedding_kernel<c10::BFloat16, true>(long const*, c10::BFloat16*)", "kernel", ClassElementwise, vllm},
	{"void concat_cat_kernel(int)", "kernel", ClassElementwise, torch},
	// other: what no rule claims, on purpose
	{"at::cuda::(anonymous namespace)::spin_kernel(long)", "kernel", ClassOther, crit},
	{"void at::native::_assert_async_cuda_kernel<bool>(bool const*, at::native::Msg)", "kernel", ClassOther, h100},
	{"void cask_cudnn::computeOffsetsKernel<false, false>(cask_cudnn::ComputeOffsetsParams)", "kernel", ClassOther, crit},
}

func TestClassifyExamples(t *testing.T) {
	for _, e := range examples {
		if got := Classify(e.name, e.cat); got != e.want {
			t.Errorf("Classify(%q, %q) = %v, want %v (seen in %s)", e.name, e.cat, got, e.want, e.from)
		}
	}
}

// TestEveryRuleTested checks that each substring of each rule is the one
// that classifies at least one example, and that each rule has an
// example from a fixture where a fixture has that kind of kernel.
func TestEveryRuleTested(t *testing.T) {
	fromFixture := map[Class]bool{}
	for ri, r := range rules {
		for _, s := range r.Substrings {
			found := false
			for _, e := range examples {
				if e.cat != "kernel" || firstMatch(e.name) != ri || !strings.Contains(strings.ToLower(e.name), s) {
					continue
				}
				found = true
				if !strings.Contains(e.from, "no fixture") {
					fromFixture[r.Class] = true
				}
			}
			if !found {
				t.Errorf("rule %v: substring %q classifies no example", r.Class, s)
			}
		}
	}
	for _, c := range Classes() {
		if c == ClassOther {
			continue
		}
		if !fromFixture[c] {
			t.Errorf("class %v: no rule is tested on a fixture's kernel name", c)
		}
	}
}

// firstMatch is the index of the first rule with a substring of name, -1
// for none (the test's own reading of the table's order).
func firstMatch(name string) int {
	lower := strings.ToLower(name)
	for i, r := range rules {
		for _, s := range r.Substrings {
			if strings.Contains(lower, s) {
				return i
			}
		}
	}
	return -1
}

func TestClassNames(t *testing.T) {
	want := []string{"gemm", "attention", "communication", "memcpy", "memset", "elementwise", "norm", "sampling", "other"}
	cs := Classes()
	if len(cs) != len(want) {
		t.Fatalf("Classes() has %d classes, want %d", len(cs), len(want))
	}
	for i, c := range cs {
		if c.String() != want[i] {
			t.Errorf("class %d is %q, want %q", i, c, want[i])
		}
	}
	if Class(200).String() != "other" {
		t.Errorf("an unknown class must print as other")
	}
	if got := Classify("x", "gpu_memset"); got != ClassMemset {
		t.Errorf("category gpu_memset: %v", got)
	}
}

// fixtureFiles are the repository's own traces (never /work/shared).
var fixtureFiles = []string{
	"../testdata/h100/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz",
	"../converter/testdata/hta/amd_trace--mi250_minitoy_train_ROCm6_2_kineto.json.gz",
	"../converter/testdata/hta/critical_path--benchmark_result_493459_1694039959_trace.json.gz",
	"../converter/testdata/hta/critical_path--event_sync_trace.json.gz",
	"../converter/testdata/hta/nccl_parser_config--nccl_data.json.gz",
	"../converter/testdata/hta/ns_resolution_trace--rank-0.Apr_03_18_51_38.1102.pt.trace.json.gz",
	"../converter/testdata/hta/trace_filter--sampled_rank-0.json.gz",
	"../converter/testdata/hta/triton_example--triton_example.json.gz",
	"../converter/testdata/hta/call_stack--backward_thread.json",
}

type gpuEvent struct {
	Name string  `json:"name"`
	Cat  string  `json:"cat"`
	Ph   string  `json:"ph"`
	Dur  float64 `json:"dur"`
}

func readGPUEvents(t testing.TB, path string) []gpuEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r = zr
	}
	var doc struct {
		TraceEvents []gpuEvent `json:"traceEvents"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []gpuEvent
	for _, e := range doc.TraceEvents {
		switch strings.ToLower(e.Cat) {
		case "kernel", "gpu_memcpy", "gpu_memset", "memcpy", "memset":
			if e.Ph == "X" {
				out = append(out, e)
			}
		}
	}
	return out
}

// TestOtherShareOnFixtures bounds the GPU time no rule claims on each
// fixture, and logs it (go test -v -run OtherShare): "other" must never
// be silently large.
func TestOtherShareOnFixtures(t *testing.T) {
	var allOther, allTotal float64
	for _, path := range fixtureFiles {
		var other, total float64
		for _, e := range readGPUEvents(t, path) {
			total += e.Dur
			if Classify(e.Name, e.Cat) == ClassOther {
				other += e.Dur
			}
		}
		allOther += other
		allTotal += total
		share := 0.0
		if total > 0 {
			share = other / total
		}
		t.Logf("%-70s other %6.3f%% of %.0f µs", filepath.Base(path), 100*share, total)
		if share > 0.02 && !strings.Contains(path, "event_sync") {
			t.Errorf("%s: other is %.1f%% of GPU time", path, 100*share)
		}
	}
	t.Logf("all fixtures: other %.3f%% of %.0f µs", 100*allOther/allTotal, allTotal)
	if allOther/allTotal > 0.01 {
		t.Errorf("other is %.2f%% of the fixtures' GPU time", 100*allOther/allTotal)
	}
}

// TestHTANCCLKernels: HTA's tests/test_trace_parse.py (test_nccl_parser_config,
// line 477 at f4d0062) asserts 21 kernels whose name contains ncclKernel
// in nccl_parser_config/nccl_data.json.gz; all of them are communication.
func TestHTANCCLKernels(t *testing.T) {
	n := 0
	for _, e := range readGPUEvents(t, "../converter/testdata/hta/nccl_parser_config--nccl_data.json.gz") {
		if e.Cat == "kernel" && strings.Contains(e.Name, "ncclKernel") {
			n++
			if c := Classify(e.Name, e.Cat); c != ClassCommunication {
				t.Errorf("%s: %v", e.Name, c)
			}
		}
	}
	if n != 21 {
		t.Errorf("%d ncclKernel kernels, HTA asserts 21", n)
	}
}

func BenchmarkClassify(b *testing.B) {
	name := examples[0].name
	for b.Loop() {
		Classify(name, "kernel")
	}
}

// TestREADMETable keeps README.md's rule table the table the code uses.
func TestREADMETable(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, "|"); len(f) > 4 {
			rows[strings.TrimSpace(f[1])] = strings.TrimSpace(f[2]) + "|" + strings.TrimSpace(f[3])
		}
	}
	for i, r := range rules {
		row, ok := rows[strconv.Itoa(i+1)]
		if !ok {
			t.Errorf("README.md has no row %d (%v)", i+1, r.Class)
			continue
		}
		cls, subs, _ := strings.Cut(row, "|")
		var want []string
		for _, s := range r.Substrings {
			want = append(want, "`"+s+"`")
		}
		if cls != r.Class.String() || subs != strings.Join(want, " ") {
			t.Errorf("README.md row %d is %q, the table says %v %s", i+1, row, r.Class, strings.Join(want, " "))
		}
	}
}
