// Package insights turns the raw material of one profiled engine step
// (its GPU kernels, copies and sets, their launches, the CPU ops and
// [memory] events) into verdicts: GPU time by kernel class, the GPU idle
// time split as HolisticTraceAnalysis splits it (host wait, kernel wait,
// other), memory-copy bytes by direction, CUDA launch delays, the CPU
// time split, the top kernels and one bottleneck word. It also owns the
// kernel classifier (Classify), the one table of kernel-name rules that
// every report of ours (step attributes, inspect, diff, metrics) uses.
//
// The package is pure computation over values the caller hands it: it
// never reads files, never knows the Kineto JSON format or the converter's
// records, never exports anything, and keeps no global mutable state. An
// Analyzer reuses its scratch slices from one step to the next, so
// analysing a step allocates nothing once the scratch has grown (it runs
// for every step, at the speed of gunzip).
package insights
