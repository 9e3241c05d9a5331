package vllmlog

import (
	"errors"
	"fmt"
)

// Kind says which vLLM log statement a Record came from.
type Kind uint8

// Record kinds.
const (
	// KindReceived is "Received request <external id>: …" (API server).
	KindReceived Kind = iota + 1
	// KindAdded is "Added request <internal id>." (AsyncLLM).
	KindAdded
	// KindGenerated is "Generated response <external id>…" without the
	// "(streaming delta)" suffix: the request has finished.
	KindGenerated
	// KindDelta is "Generated response <id> (streaming delta): …", a partial
	// output; it says the request is still running.
	KindDelta
	// KindAborted is "Aborted request(s) <internal ids>." or "Request <id>
	// aborted.".
	KindAborted
	// KindFailed is "Request <id> failed (…)…" or "… failed due to …".
	KindFailed
	// KindFinished is V0's "Finished request <id>.".
	KindFinished
	// KindIteration is "Iteration(<i>): … context requests, …" from
	// --enable-logging-iteration-details.
	KindIteration
	// KindProfileStart and KindProfileStop are the access-log lines of a
	// successful POST /start_profile or /stop_profile. In the text log they
	// carry no time of their own: Time is that of the previous timestamped
	// line (0 if none). Their position among request lines says which
	// requests finished before profiling started.
	KindProfileStart
	KindProfileStop
)

var kindNames = [...]string{"", "received", "added", "generated", "delta", "aborted", "failed", "finished", "iteration", "profile_start", "profile_stop"}

// String returns a short lowercase name for the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Iteration holds the counts of one "Iteration(i): …" line.
type Iteration struct {
	Index                                int
	ContextRequests, ContextTokens       int
	GenerationRequests, GenerationTokens int
	// ElapsedNs is "iteration elapsed time" in nanoseconds (10 µs resolution).
	ElapsedNs int64
}

// Record is one request-related fact from a log line. Unknown numbers are -1
// (see Unknown); Time is 0 when the line carried no usable time.
type Record struct {
	Kind Kind
	// Time is the line's time in Unix ns and Resolution its granularity in
	// ns: 1e9 for the default text log, 1e6 for asctime with milliseconds,
	// 1e3 or less for python-json-logger's "created".
	Time, Resolution int64
	// Process and PID come from the "(APIServer pid=7) " prefix when present.
	Process string
	PID     int
	// RequestIDs holds the request id(s) the line names as written: external
	// for Received/Generated/"Request … aborted", internal for Added and
	// "Aborted request(s)". Several only for "Aborted request(s) a,b.".
	RequestIDs []string
	// MaxTokens, Temperature, TopP and N come from SamplingParams on a
	// Received line; PromptTokens from prompt_token_ids on pre-2025-10 lines
	// (a count only: the ids themselves are never kept).
	MaxTokens    int
	Temperature  float64
	TopP         float64
	N            int
	PromptTokens int
	// FinishReason is finish_reason on a Generated line.
	FinishReason string
	// OutputTokens is the number of output_token_ids on a Generated line
	// (a count only: the ids themselves are never kept); on a streaming
	// delta it counts only that delta's ids. Unknown when the line has
	// none ("output_token_ids: None" on "(streaming complete)").
	OutputTokens int
	// Reason is the failure text on a Failed line ("engine dead",
	// "bad request", …), without user content.
	Reason string
	// Iteration is set for KindIteration.
	Iteration Iteration
	// Prompt and Output hold text only when the parser was told
	// AllowPromptText; otherwise they are always empty.
	Prompt, Output string
	// Task is set by the reader, not the parsers: the task of the log file
	// the line came from (package logfiles), vllm.request.task.
	Task string
}

// Unknown marks a number the line did not carry.
const Unknown = -1

// Errors returned by the parsers. ErrNotRequestLine is not a failure: the
// line is valid but says nothing about requests (throughput lines, access
// logs, startup messages); callers skip it.
var (
	ErrNotRequestLine = errors.New("vllmlog: not a request line")
	ErrMalformed      = errors.New("vllmlog: malformed line")
	ErrNoTime         = errors.New("vllmlog: no usable time")
)

// LineError says which line failed to parse and why. It unwraps to one of the
// sentinel errors.
type LineError struct {
	Format string // "text", "json", "otlp-json"
	Reason string
	Err    error
}

func (e *LineError) Error() string { return fmt.Sprintf("vllmlog: %s: %s", e.Format, e.Reason) }

// Unwrap returns the sentinel.
func (e *LineError) Unwrap() error { return e.Err }

func malformed(format, reason string) error {
	return &LineError{Format: format, Reason: reason, Err: ErrMalformed}
}

func newRecord(k Kind) Record {
	return Record{Kind: k, MaxTokens: Unknown, N: Unknown, PromptTokens: Unknown, OutputTokens: Unknown,
		Temperature: -1, TopP: -1, PID: Unknown}
}
