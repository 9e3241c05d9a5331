// Package testkit is what the project's tests share: the goroutine-leak
// check of every package's TestMain (RunTests), the harness that builds
// and runs the real daemon (BuildBridge, DaemonArgs, StartProcess, and
// StartCollector for the in-process collector of internal/otlptest), a
// function run in the background until the test stops it (Go), a
// throw-away PKI for TLS tests, golden-file comparison, the checks of a
// component's config validation (CheckConfigKey, CheckConfigCases,
// YAMLCases: every component's bad key is a *configerr.Error), readers and
// files with chosen behaviour (ChunkReader's odd read sizes, MemFile's
// failing ReadAt/WriteAt), the check that spans form one tree per trace
// (CheckTrees), and the small helpers tests kept copying
// (WaitFor, FreeAddr, ReadFile, Glob, PlaceFile, Gzip, Gunzip, SyncBuffer, Tail,
// StateRecords for the daemon's state file).
//
// Every helper takes the test's testing.TB and fails it with what failed
// and where; processes and collectors it starts are stopped by the test's
// cleanup. Fixtures used by several packages live in the repository's
// top-level testdata/, not here.
//
// It is imported only by _test.go files. It must never be imported by the
// daemon, hold global state, reach beyond loopback, or decide what a test
// asserts: the oracles stay in the tests.
package testkit
