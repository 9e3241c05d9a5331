// Package report builds the model of `vllm-otel-bridge inspect` — what a
// performance engineer reads instead of opening a profile in
// chrome://tracing — and renders it as a terminal report, JSON and one
// self-contained HTML page.
//
// A Builder consumes the span batches the converter and the linker emit
// (the same stream `convert` exports), one at a time, and keeps only
// aggregates: one row per engine step (the scalar vllm.step.* attributes
// of its root plus a few sums over its GPU, runtime and memory spans), one
// row per (step kind, GPU span name) for the top-kernel tables, the few
// longest kernel instances, and one row per request. Memory therefore grows
// with the number of steps, kernel names and requests, never with the
// number of spans: a multi-GB trace is inspected in flat memory.
//
// Step verdicts (GPU time by class, the idle split, the bottleneck, …) are
// read from the step-root attributes of issue 13's contract
// (vllm.step.gpu_time.<class>_ns, vllm.step.gpu_idle.host_wait_ns,
// vllm.step.bottleneck, …). Where an attribute is absent (an old trace, or
// a converter without step insights) the report says "n/a" (null in JSON);
// it never computes a stand-in for a contract attribute.
//
// Kernels are grouped by their span name and, when Options.Classify is set
// (the hook for insights.Classify), by class too.
//
// Rendering is split from the model: Document, Table and Chart are plain
// data, and RenderText / RenderHTML draw any document, so other commands
// (diff) reuse them with tables of their own.
//
// The package never reads files, never parses traces and never exports
// spans; it never keeps a span or a batch after Add returns.
package report
