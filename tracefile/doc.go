// Package tracefile recognises the names of the PyTorch profiler (Kineto)
// trace files that vLLM writes, in every naming era, and turns a name into
// the worker identity and OpenTelemetry resource attributes it implies.
//
// Parsing works on the base name alone, from the right:
//
//	<worker>.<timestamp>.pt.trace.json[.gz]
//
// where the timestamp is time.time_ns() (milliseconds before PyTorch PR
// #97392, March 2023) and <worker> is one of
//
//	[<prefix>_]dp<D>_pp<P>_tp<T>_dcp<C>_ep<E>_rank<R>   vLLM v0.17+        (EraDPRank)
//	<instance_ns>-rank-<R>                              vLLM v0.11.1-v0.16 (EraInstanceRank)
//	<host>_<pid>.async_llm                              API-server frontend (EraFrontend)
//	<host>_<pid>                                        vLLM v0.8-v0.11.0  (EraHostPID)
//
// A name that has the outer shape but a worker part of none of these forms,
// or a number that is not a plausible time (other tools' names), is still a
// trace file (EraUnknown): it is watched and converted, but its rank is
// unknown.
//
// The package is pure: it never touches the file system, never opens a
// file and never looks inside one. Information that only the trace content
// holds (distributedInfo.rank, deviceProperties) is the converter's job.
package tracefile
