// Package profdiff compares two sets of profiled vLLM engine steps, a base
// and a new one, and names what changed: per step kind (prefill, decode,
// mixed), the step wall time, the GPU busy/idle split, the GPU time by
// class, CUDA launch time and the top kernels, each per step and per
// token, judged against the step-to-step variation of both sides
// (bootstrap confidence interval and Mann-Whitney U, package stats), plus
// the kernels that appear or disappear.
//
// It reads the spans the converter emits (Collector.Add takes each
// span.Batch as converter.Convert hands it over): the step roots' attributes
// (vllm.step.*: the converter's, and the insights' vllm.step.gpu_time.*
// and vllm.step.gpu_idle.* where present) and the kernel and CUDA runtime
// spans under them. A step trace is folded into one small record as soon as
// the next trace begins, so memory grows with the number of steps (tens of
// bytes per kernel name a step ran), never with the number of spans.
//
// It must never invent a figure: a metric the step roots do not carry on
// both sides (the classes before insights run, for example) is reported as
// not available, not estimated. It does no I/O besides writing reports to
// the writer it is given.
package profdiff
