// Package enginestep describes one vLLM engine step as the converter saw it
// in a profiler trace, and parses the step annotations vLLM and PyTorch write
// (execute_context_N(T)_generation_M(G), execute_new_N_cached_M,
// ProfilerStep#N).
//
// It is the contract between the converter, which finds steps, and the
// linker, which decides which requests each step served. It never reads
// files, never builds spans and never knows about requests.
package enginestep
