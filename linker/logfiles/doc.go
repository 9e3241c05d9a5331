// Package logfiles reads vLLM's request logs the way operators keep them:
// files named by globs and folders (picked up as they appear), each followed
// like `tail -F`, across logrotate's copytruncate and create modes, with
// rotated and gzip-compressed files read once and never twice after a
// rename, and in any of the wrappers a process's stdout can end up in
// (package containerlog: the kubelet's CRI format, Docker's json-file
// driver, or none). Inside each line, vLLM's text and JSON formats are
// read by package vllmlog, and the records go into a linker.Timeline, each
// file its own stream, tagged with the file's task (vllm.request.task).
//
// Files are identified by content, as the watcher identifies trace files
// and as the OpenTelemetry Collector's filelog receiver does: by their first
// KiB (decompressed for .gz). A file whose first KiB is a prefix of a known
// file's, or the other way round, is that file (renamed, copied or
// compressed), and is read on from the offset already reached. So two
// different files whose first KiB are the same are taken for one; vLLM's
// log lines carry their time (and CRI lines a nanosecond one), so that
// takes a KiB of identical output without a time. fsnotify only makes
// discovery prompt; a periodic rescan is the truth.
//
// Bad input (a binary file, a file with no vLLM line, lines over the size
// cap, invalid UTF-8) is skipped with one warning per file and never stops
// the others.
//
// What it never does: it never writes, moves or deletes a file, keeps no
// state on disk (a restarted daemon reads again per Config.FromEnd), and
// never keeps prompt or output text: vllmlog drops it while parsing, and
// the line buffers are reused.
package logfiles
