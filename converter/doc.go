// Package converter turns one PyTorch profiler (Kineto) Chrome-trace JSON
// file, plain or gzip-compressed, into OpenTelemetry span batches with
// deterministic IDs: one trace per vLLM engine step plus one per-file
// "profile" trace.
//
// Convert streams the input (inflate, then the jsontext decoder framing and
// validating each event, then field extraction, each on its own goroutine)
// into a compact, append-only record store (interned names, int64
// nanosecond times, args in a byte arena that Options.Spill can move to a
// caller-provided scratch file), verifies that the input is complete (JSON
// closed, gzip CRC trailer checked at io.EOF), then resolves structure (steps, CPU
// nesting by time per thread, GPU work under its launch by CUDA
// correlation id, Python frames folded into ops, memory events as span
// events, fwdbwd flows as links), applies the per-trace span cap and emits
// batches trace by trace.
//
// The package never does I/O other than reading the io.Reader it is given
// (and, when the caller sets Options.Spill, writing and reading back that
// scratch storage), never knows file paths, checkpoints or transports,
// never holds the raw
// file in memory, never emits a span before the whole input was verified,
// and never panics on any input: every failure is an *Error wrapping one of
// ErrTruncated (retry later), ErrMalformed or ErrNotKineto (move aside).
//
// Times: Unix ns = baseTimeNanoseconds + ts when the trace carries
// baseTimeNanoseconds (eras D and E, wherever the key appears); else ts is
// taken as absolute epoch µs when it exceeds 1e14 µs (eras A and B); else
// the base is unknown (era C): Options.ExportTimeNs, when set, aligns the
// capture end to it and the resource says kineto.time_base=export_time,
// otherwise times stay relative to 0 and the resource says
// kineto.time_base=unknown.
//
// IDs: an IDSource is seeded with the first 64 KiB of the decompressed JSON;
// a span's ID key is its event's ordinal in traceEvents (synthetic roots use
// keys at and above 1<<63), a step trace's ID key is the step index and the
// profile trace uses 1<<63. Converting the same file twice yields
// byte-identical batches.
package converter
