// Package reliability holds no code: its tests are the evidence that
// vllm-otel-bridge survives bad input, crashes, backend faults, load and
// hostile configuration without losing or leaking data.
//
// The tests build the real binary (cmd/vllm-otel-bridge) once in TestMain
// and drive it as a child process against the in-process OTLP collector of
// internal/otlptest, exactly as an operator would run it beside vLLM. They
// prove, each with figures logged by the test (go test -v):
//
//   - bad input (truncated gzip and JSON, a 100 MB event, a 10 MB name,
//     100,000-deep nesting, NaN/Infinity, wrong types, duplicate keys,
//     binary files, empty files, files cut or deleted while read, symlinks
//     leaving the profiler directory, unreadable files) gives a clear error
//     through converter.Convert and through the daemon, in bounded memory,
//     and the daemon goes on exporting good files;
//   - faults (kill -9 at random points of an export, a flapping backend, an
//     unwritable state directory, a full disk budget) lose no span and keep
//     span ids identical across restarts;
//   - load on the daemon's OTLP receiver is forwarded in full or refused
//     with 429 / RESOURCE_EXHAUSTED, in bounded memory;
//   - security: loopback-only listeners by default, TLS and mTLS export,
//     secret headers delivered but never logged, no prompt text, output
//     text or token id ever exported, and the
//     resource limits --max-file-size and --max-requests hold.
//
// Long versions (a minute of flapping, more kills) run with
// BRIDGE_LONG_TESTS=1; the default suite stays short.
//
// The package must never be imported, never reach the network beyond
// loopback, and never read /work/shared or other paths outside the
// repository's testdata/ at run time.
package reliability
