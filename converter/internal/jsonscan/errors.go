package jsonscan

import (
	"errors"
	"fmt"
)

// Sentinel errors, re-exported by the converter as its own: every error
// for bad input is an *Error whose Err is one of these.
var (
	// ErrTruncated: the input ended early (JSON not closed, gzip stream or
	// trailer missing, empty input). The file may still be growing: retry.
	ErrTruncated = errors.New("kineto trace truncated")
	// ErrMalformed: the input is complete but not valid (bad JSON syntax,
	// gzip checksum or header error, nesting too deep, wrong types in the
	// trace structure). Move the file aside.
	ErrMalformed = errors.New("kineto trace malformed")
	// ErrNotKineto: valid JSON that is not a Kineto trace (top level not an
	// object, no traceEvents array). Move the file aside.
	ErrNotKineto = errors.New("not a kineto trace")
)

// Error describes why an input could not be converted (converter.Error is
// this type; its text keeps the converter's prefix).
type Error struct {
	// Offset is the byte offset in the decompressed JSON at or after which
	// the problem was found (-1 when unknown).
	Offset int64
	// Reason says what was wrong, for logs.
	Reason string
	// Err is ErrTruncated, ErrMalformed, ErrNotKineto, or an I/O error
	// from the reader.
	Err error
}

func (e *Error) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("converter: %v at byte %d: %s", e.Err, e.Offset, e.Reason)
	}
	return fmt.Sprintf("converter: %v: %s", e.Err, e.Reason)
}

// Unwrap returns the sentinel or I/O error.
func (e *Error) Unwrap() error { return e.Err }

func newError(kind error, off int64, format string, args ...any) *Error {
	return &Error{Offset: off, Reason: fmt.Sprintf(format, args...), Err: kind}
}
