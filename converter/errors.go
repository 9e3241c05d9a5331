package converter

import (
	"fmt"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/jsonscan"
)

// Sentinel errors. Every error Convert returns for bad input is an *Error
// whose Err is one of these (errors.Is works on the result).
var (
	// ErrTruncated: the input ended early (JSON not closed, gzip stream or
	// trailer missing, empty input). The file may still be growing: retry.
	ErrTruncated = jsonscan.ErrTruncated
	// ErrMalformed: the input is complete but not valid (bad JSON syntax,
	// gzip checksum or header error, nesting too deep, wrong types in the
	// trace structure). Move the file aside.
	ErrMalformed = jsonscan.ErrMalformed
	// ErrNotKineto: valid JSON that is not a Kineto trace (top level not an
	// object, no traceEvents array). Move the file aside.
	ErrNotKineto = jsonscan.ErrNotKineto
)

// Error describes why an input could not be converted: Offset (the byte
// offset in the decompressed JSON at or after which the problem was found,
// -1 when unknown), Reason (for logs) and Err (ErrTruncated, ErrMalformed,
// ErrNotKineto, or an I/O error from the reader). The reading stage
// (internal/jsonscan) makes most of them, hence the alias.
type Error = jsonscan.Error

func newError(kind error, off int64, format string, args ...any) *Error {
	return &Error{Offset: off, Reason: fmt.Sprintf(format, args...), Err: kind}
}
