// Package vllmlog parses what vLLM writes about requests: its default text
// log lines, the same records as JSON lines (python-json-logger through
// VLLM_LOGGING_CONFIG_PATH), and its own "llm_request" OpenTelemetry spans
// stored as OTLP/JSON.
//
// Every parser here is pure: it takes bytes or a reader and returns records,
// so it can be tested on literal strings and fuzzed. Reading and following
// files lives in package tail; merging records into request timelines lives in
// package linker.
//
// It is also the one model of vLLM's llm_request span (LLMRequestSpan,
// from the live receiver's spans with LLMRequests or from OTLP/JSON files
// with DecodeOTLPJSON, which decodes with package otlp/otlpjson) and the
// one privacy policy for its attributes (IsMetadataAttr, an allow-list of
// gen_ai metadata that the request timeline applies too).
//
// Privacy: prompt text, output text and token ids in log lines are dropped
// while parsing. They are kept only when the caller sets AllowPromptText,
// and even then only the text, never the token ids. An llm_request span
// keeps only the attributes IsMetadataAttr allows, whatever the caller
// sets. Nothing in this package writes, sends or logs anything.
package vllmlog
