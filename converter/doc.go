// Package converter turns one PyTorch profiler (Kineto) Chrome-trace JSON
// file, plain or gzip-compressed, into OpenTelemetry span batches with
// deterministic IDs: one trace per vLLM engine step plus one per-file
// "profile" trace. A step's trace is shared by every rank of a tensor- or
// pipeline-parallel run: its root's ids are derived from what every rank's
// file says alike (ranks.go), the file's own part hangs under it as a
// vllm.rank.step span; the root is emitted from this file alone, or handed
// to Options.Steps to be built from several ranks' parts.
//
// Convert streams the input (inflate on its own goroutine; one hand-written
// scanner that validates the JSON by jsontext's rules and extracts each
// event's fields in a single pass over a window of the input; a store
// stage on a third goroutine) into compact records (interned names, int64 nanosecond times, args in a
// byte arena) that go, a chunk at a time, to scratch storage:
// Options.Spill when set, else memory. Only what structure needs before
// the records are read back stays in memory: user_annotations (step
// candidates, External ids), runtime/driver calls with a correlation id,
// fwdbwd flows, per-file counters. Once the input is verified complete
// (JSON closed, gzip CRC trailer checked at io.EOF), the steps are known;
// one scan of the records sends GPU work to its trace's bucket (under its
// launch, by CUDA correlation id) and the CPU side (ops, annotations,
// Python frames, instants) to the bucket of the step window its start
// falls in; the windows are then walked in time order, each thread's
// stacks of open spans carried from one window to the next (CPU nesting
// by time, Python frames folded into ops, memory events onto the span
// they fall in, whatever its trace), leaving each span in its trace's
// bucket. Finally each trace is loaded alone, capped and emitted: the
// memory held is that of one trace (a step: a few thousand spans) plus
// small tables, not that of the file. A file without step annotations is
// one profile trace, so its memory is that of the whole file (HTA-style
// traces); fwdbwd flows, the launch table (16 B per launch) and the
// interner (distinct names, not events) still grow with the input. Without Options.Spill the same algorithm
// keeps the records and buckets in memory (about 64 B a record, plus 41 B
// of args): memory is flat only with a Spill.
//
// Layout: the stages follow the data, read → route → nest → load → emit
// (read.go, route*.go, nest.go, load.go, emit*.go; the record model in
// record.go). Two stages are packages of their own that know nothing of
// Kineto: internal/jsonscan (read-ahead, gzip checks, the JSON scanner,
// Error) and internal/recstore (scratch storage, record chunks, buckets,
// the args arena and its encoding).
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
// Books: Stats.Books accounts, per category, for every event read (span,
// span event, left out by the cap, or not exported for a stated reason);
// Stats.CheckBooks reports books that do not balance, which callers log
// as a converter bug.
//
// IDs: an IDSource is seeded with the first 64 KiB of the decompressed JSON;
// a span's ID key is its event's ordinal in traceEvents (synthetic roots use
// keys at and above 1<<63), a step trace's ID key is the step index and the
// profile trace uses 1<<63. Converting the same file twice yields
// byte-identical batches.
package converter
