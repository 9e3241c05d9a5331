package insights

import "strings"

// Class is a kernel class: what a GPU activity spends its time on.
type Class uint8

// The classes, in the order reports list them.
const (
	ClassGEMM Class = iota
	ClassAttention
	ClassCommunication
	ClassMemcpy
	ClassMemset
	ClassElementwise
	ClassNorm
	ClassSampling
	ClassOther
	numClasses
)

var classNames = [numClasses]string{
	"gemm", "attention", "communication", "memcpy", "memset",
	"elementwise", "norm", "sampling", "other",
}

// String returns the class's name as used in attribute keys
// (vllm.step.gpu_time.<name>_ns) and reports.
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "other"
}

// Classes returns every class, in report order (ClassOther last).
func Classes() []Class {
	out := make([]Class, numClasses)
	for i := range out {
		out[i] = Class(i)
	}
	return out
}

// Rule is one row of the classifier's table: a kernel whose lower-cased
// name contains any of Substrings belongs to Class.
type Rule struct {
	Class      Class
	Substrings []string
	// Why says which kernels the rule is for.
	Why string
}

// rules is THE classifier table. Rules are tried in order against the
// lower-cased full kernel name (templates and parameters included); the
// first rule with a matching substring wins, so a narrow rule comes before
// a broad one (NCCL's "reduce" before the elementwise "reduce", flash
// attention's "fprop" before convolutions). Category decides memcpy and
// memset before any rule is tried.
var rules = []Rule{
	{ClassCommunication, []string{"nccl", "rccl", "cross_device_reduce", "all_reduce", "allreduce",
		"all_gather", "allgather", "reduce_scatter", "reducescatter", "alltoall", "nvshmem"},
		"NCCL/RCCL collectives and point-to-point (ncclDevKernel_*, ncclKernel_*), vLLM's custom all-reduce"},
	{ClassMemcpy, []string{"memcpy"}, "a copy named as one where the category does not say it (Memcpy DtoD)"},
	{ClassMemset, []string{"memset"}, "a set named as one where the category does not say it"},
	{ClassAttention, []string{"flash", "fmha", "sdpa", "attention", "attn", "reshape_and_cache", "paged_"},
		"FlashAttention/FlashInfer, cuDNN SDPA, paged attention and the KV-cache write"},
	{ClassNorm, []string{"rms_norm", "rmsnorm", "layer_norm", "layernorm", "group_norm", "groupnorm",
		"batch_norm", "batchnorm", "bn_fw", "bn_bw", "gammabeta", "rowwisemoments", "rsqrt"},
		"RMS/Layer/Group/Batch norm, fused or not (cuDNN bn_fw/bn_bw, ATen's RowwiseMoments/GammaBetaBackward; rsqrt is an unfused norm's)"},
	{ClassSampling, []string{"softmax", "topk", "top_k", "top_p", "sort", "argmax", "multinomial",
		"distribution_", "sampl", "gumbel"},
		"the sampler: softmax, top-k/top-p, sort, argmax, random draws"},
	{ClassElementwise, []string{"quantize", "fp8rowwise", "qparam"},
		"FP8 (de)quantization, before the gemm rule: fbgemm_gpu:: contains \"gemm\""},
	{ClassGEMM, []string{"gemm", "gemv", "nvjet", "cublas", "cutlass", "xmma", "cijk_", "matmul", "bmm",
		"scudnn", "convolution", "winograd", "dgrad", "wgrad", "fft2d", "triton_tem"},
		"cuBLAS/cuBLASLt (nvjet_*, *sgemm*, splitKreduce), CUTLASS, rocBLAS Tensile (Cijk_*), cuDNN convolutions, Triton mm templates"},
	{ClassElementwise, []string{"elementwise", "vectorized", "reduce", "copy", "fill", "index", "indices", "gather",
		"scatter", "cat_", "catarray", "triton_poi", "triton_red", "triton_per", "embedding", "embs",
		"permute", "transpose", "scalepacked", "nchwtonhwc", "nhwctonchw", "arange", "pool", "dropout",
		"multi_tensor_apply", "scan", "fp8", "act_and_mul", "silu", "gelu"},
		"memory-bound ATen/Triton pointwise, reduction, copy, indexing, layout and embedding kernels"},
}

// Rules returns a copy of the classifier's table, in the order it is tried.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	copy(out, rules)
	return out
}

// Classify returns the class of a GPU activity from its name and Kineto
// category: gpu_memcpy/Memcpy and gpu_memset/Memset by category, else
// the first rule whose substring the lower-cased name contains, else
// ClassOther. It allocates only to lower-case a name with upper-case
// letters; callers that see a name many times keep its class.
func Classify(name, category string) Class {
	switch category {
	case "gpu_memcpy", "Memcpy":
		return ClassMemcpy
	case "gpu_memset", "Memset":
		return ClassMemset
	}
	lower := strings.ToLower(name)
	for i := range rules {
		for _, s := range rules[i].Substrings {
			if strings.Contains(lower, s) {
				return rules[i].Class
			}
		}
	}
	return ClassOther
}
