// Package jsonscan is the converter's reading stage: the read-ahead that
// inflates gzip input on its own goroutine and verifies its CRC and size
// trailer at io.EOF (ReadAhead), and the one-pass JSON scanner (Scanner)
// that validates the decompressed text by jsontext's rules (invalid UTF-8
// and duplicate names allowed, nesting to 10,000, bare NaN/Infinity words
// read as strings, as Kineto writes them) and hands the caller each token
// in place, in a window of the input, with no per-token copy. It also
// owns the number syntax of Kineto times (ParseMicrosToNs, ParseInt) and
// the error type every bad input ends in (Error, wrapping ErrTruncated,
// ErrMalformed or ErrNotKineto), which the converter re-exports.
//
// It must never know what a Kineto event means (that is the parser's, in
// the converter), never hold more of the input than its window and the
// read-ahead's buffers, never read from anything but the io.Reader it is
// given, and never panic on any input (FuzzScanner compares it with
// jsontext after the reference NaN filter).
package jsonscan
