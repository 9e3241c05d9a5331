package insights

import "github.com/vllm-otel-bridge/vllm-otel-bridge/span"

// Step-root attribute keys (issue 13 item 1; inspect, diff and the
// metrics read exactly these). GPU time by class is GPUTimeKey(c).
const (
	KeyHostWait    = "vllm.step.gpu_idle.host_wait_ns"
	KeyKernelWait  = "vllm.step.gpu_idle.kernel_wait_ns"
	KeyIdleOther   = "vllm.step.gpu_idle.other_ns"
	KeyLongestGap  = "vllm.step.gpu_idle.longest_gap_ns"
	KeyHtoDBytes   = "vllm.step.memcpy.htod_bytes"
	KeyDtoHBytes   = "vllm.step.memcpy.dtoh_bytes"
	KeyDtoDBytes   = "vllm.step.memcpy.dtod_bytes"
	KeyHtoDNs      = "vllm.step.memcpy.htod_ns"
	KeyDtoHNs      = "vllm.step.memcpy.dtoh_ns"
	KeyDtoDNs      = "vllm.step.memcpy.dtod_ns"
	KeyLaunchP50   = "vllm.step.launch_delay_p50_ns"
	KeyLaunchP99   = "vllm.step.launch_delay_p99_ns"
	KeyCPUPython   = "vllm.step.cpu.python_ns"
	KeyCPUAten     = "vllm.step.cpu.aten_ns"
	KeyCPURuntime  = "vllm.step.cpu.cuda_runtime_ns"
	KeyTopKernels  = "vllm.step.top_kernels"
	KeyMemoryPeak  = "vllm.step.memory.peak_allocated_bytes"
	KeyMemoryAlloc = "vllm.step.memory.allocated_bytes"
	KeyNsPerToken  = "vllm.step.gpu_ns_per_token"
	KeyBottleneck  = "vllm.step.bottleneck"

	gpuTimePrefix = "vllm.step.gpu_time."
	gpuTimeSuffix = "_ns"
)

var gpuTimeKeys = func() (k [numClasses]string) {
	for c := range k {
		k[c] = gpuTimePrefix + Class(c).String() + gpuTimeSuffix
	}
	return k
}()

// GPUTimeKey returns vllm.step.gpu_time.<class>_ns.
func GPUTimeKey(c Class) string {
	if c >= numClasses {
		c = ClassOther
	}
	return gpuTimeKeys[c]
}

var (
	copyByteKeys = [3]string{KeyHtoDBytes, KeyDtoHBytes, KeyDtoDBytes}
	copyNsKeys   = [3]string{KeyHtoDNs, KeyDtoHNs, KeyDtoDNs}
	cpuKeys      = [numCPUKinds]string{KeyCPUPython, KeyCPUAten, KeyCPURuntime}
)

// AppendAttrs appends the step's verdict attributes to attrs: every
// integer figure always (0 when there is nothing to count), the top
// kernels when the step ran a kernel, memory when it had [memory] events,
// ns per token when its tokens are known.
func (s *Step) AppendAttrs(attrs []span.Attr) []span.Attr {
	for c := range s.GPUTime {
		attrs = append(attrs, span.Int(gpuTimeKeys[c], s.GPUTime[c]))
	}
	attrs = append(attrs,
		span.Int(KeyHostWait, s.HostWaitNs),
		span.Int(KeyKernelWait, s.KernelWaitNs),
		span.Int(KeyIdleOther, s.OtherIdle),
		span.Int(KeyLongestGap, s.LongestGapNs))
	for d := range s.CopyBytes {
		attrs = append(attrs, span.Int(copyByteKeys[d], s.CopyBytes[d]), span.Int(copyNsKeys[d], s.CopyNs[d]))
	}
	attrs = append(attrs,
		span.Int(KeyLaunchP50, s.LaunchDelayP50),
		span.Int(KeyLaunchP99, s.LaunchDelayP99))
	for k := range s.CPUNs {
		attrs = append(attrs, span.Int(cpuKeys[k], s.CPUNs[k]))
	}
	if s.NTop > 0 {
		attrs = append(attrs, span.Strings(KeyTopKernels, append([]string(nil), s.TopKernels[:s.NTop]...)))
	}
	if s.HasMemory {
		attrs = append(attrs, span.Int(KeyMemoryPeak, s.PeakAllocated), span.Int(KeyMemoryAlloc, s.Allocated))
	}
	if s.Tokens > 0 {
		attrs = append(attrs, span.Int(KeyNsPerToken, s.GPUNsPerToken))
	}
	return append(attrs, span.String(KeyBottleneck, s.Bottleneck.String()))
}
