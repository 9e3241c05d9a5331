package linker

import (
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Source says where a request's data came from. Higher is better.
type Source uint8

// Sources, worst to best.
const (
	SourceNone Source = iota
	// SourceTextLog is vLLM's default text log (one-second times).
	SourceTextLog
	// SourceJSONLog is a JSON log with sub-second times.
	SourceJSONLog
	// SourceOTLP is vLLM's own llm_request span.
	SourceOTLP
)

// String names the source for attributes and metrics.
func (s Source) String() string {
	switch s {
	case SourceTextLog:
		return "text_log"
	case SourceJSONLog:
		return "json_log"
	case SourceOTLP:
		return "otlp"
	}
	return "none"
}

// Request is what the timeline knows about one vLLM request. Times are Unix
// ns; 0 means unknown.
type Request struct {
	// ID is the external request id (chatcmpl-…, cmpl-…-0); InternalID the
	// engine's id with its random suffix, when a log named it.
	ID, InternalID string
	// Arrival is when the request arrived (llm_request start, or the
	// Received/Added log line). Scheduled is when the scheduler first took
	// it (spans only). FirstToken is when its first token was produced.
	// Finish is when its last token was produced (spans), or when the log
	// said it finished (Generated response / abort / failure lines).
	Arrival, Scheduled, FirstToken, Finish int64
	// ArrivalRes and FinishRes are the resolutions of Arrival and Finish in
	// ns (1 for span times, 1e9 for the default text log); 0 when unknown.
	ArrivalRes, FinishRes int64
	// PromptTokens and CompletionTokens are usage counts; MaxTokens the
	// request's max_tokens. -1 when unknown.
	PromptTokens, CompletionTokens, MaxTokens int
	// TraceID, SpanID and ParentSpanID identify vLLM's llm_request span
	// when it is known.
	TraceID              span.TraceID
	SpanID, ParentSpanID span.SpanID
	// Attrs are gen_ai.* attributes from the best source.
	Attrs []span.Attr
	// FinishReason is finish_reason of the Generated response log line
	// ("stop", "length", …); empty when unknown.
	FinishReason string
	// Aborted is set when vLLM logged the request as aborted or failed.
	Aborted bool
	// Source is the best source that contributed anything.
	Source Source
	// Task is the task of the log file that named the request
	// (vllm.request.task); empty when none.
	Task string
}

// HasSpan reports whether vLLM's llm_request span for the request is known.
func (r *Request) HasSpan() bool { return !r.SpanID.IsZero() && !r.TraceID.IsZero() }

// ExternalID maps an engine-internal request id to the external id the API
// server and the llm_request span use: it removes the random suffix vLLM
// appends since December 2025 (a trailing "-" and 8 hex digits) and the
// "<n>_" prefix of parallel-sampling children. Other ids are returned as is.
func ExternalID(internal string) string {
	s := internal
	if i := len(s) - 9; i > 0 && s[i] == '-' && isHex(s[i+1:]) {
		s = s[:i]
	}
	if i := indexNonDigit(s); i > 0 && i < len(s)-1 && s[i] == '_' {
		s = s[i+1:]
	}
	return s
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return len(s) > 0
}

func indexNonDigit(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return i
		}
	}
	return len(s)
}
