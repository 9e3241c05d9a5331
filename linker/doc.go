// Package linker builds request timelines from vLLM's logs and llm_request
// spans, decides which requests each profiled engine step served, and
// writes the request side of the picture: one span per (request, step)
// under the request's llm_request span.
//
// Sources, best first: vLLM's own llm_request spans (AddLLMRequestSpan, fed
// by the OTLP receiver or an OTLP/JSON file), JSON logs with sub-second
// times, and the default text log (one-second times, no year, local time).
// Timeline merges what each source says about a request, field by field,
// the best source winning; Linker implements enginestep.Linker.
//
// Assignment replays vLLM's scheduler over the steps of one trace file: a
// step serves its generation requests (requests already running that have
// not finished) and its context requests (the next requests in arrival
// order, first come first served), and the annotation's counts
// (execute_context_N(T)_generation_M(G)) fix how many of each. Evidence of
// when a request was scheduled and finished comes from exact times (spans),
// from millisecond times (JSON logs), or, for the text log, from the order
// of its lines relative to "Iteration(i): …" lines, which are matched to
// the trace's steps by their count 4-tuples. Every choice made without
// decisive evidence is counted in Stats.Ambiguous.
//
// Emission (Linker.Flush): the spans of a request are written once the
// request has finished (and, when vLLM's llm_request spans are expected,
// once its span has arrived or Options.SpanWait has passed), or on a final
// flush. IDs are deterministic, so writing a span twice is an overwrite,
// not a duplicate.
//
// The package never reads trace files, never exports by itself (it hands
// batches to the emit function it was given), and never keeps prompt text,
// output text or token ids unless Options.AllowPromptText is set; the
// parsers in package vllmlog drop them before anything is stored.
package linker
