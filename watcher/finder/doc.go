// Package finder lists the trace files in vLLM profiler directories: which
// names count (tracefile.Parse, minus tracefile.Ignored), which
// subdirectories are entered (with Recursive, all but "exported", "failed",
// "capture_traces" and the configured exported/failed directories), and
// which symlinks are followed (only those resolving inside their watched
// directory, unless FollowSymlinks).
//
// It only lists and stats. It never opens, reads, moves or deletes a file,
// and keeps no state between calls: deciding what a file's state is
// belongs to the watcher.
package finder
