// Package watcher finds complete PyTorch profiler trace files in vLLM's
// profiler directories, hands each one to the daemon exactly once at a
// time, and records, atomically and only after the daemon says the backend
// acknowledged everything, that the file was exported.
//
// The profiler directory is the durable queue. A file is offered by Next
// when it is complete: a plain .json (which Kineto renames into place) once
// its size and mtime have settled, a .json.gz (which PyTorch grows in
// place) once its size and mtime have settled and its fingerprint (gzip
// header, first 16 KiB of content, trailer) reads; the whole stream is
// left to the consumer, which inflates it anyway, checks its CRC-32 and
// length at the end and reports a cut one through Retry with an error
// matching IsTruncated, so every byte is inflated once. The daemon then
// calls exactly one of Done (exported:
// recorded in the state file, then kept, deleted or moved per AfterExport),
// Retry (transient: offered again after a backoff) or Failed (permanent:
// recorded, moved aside per OnFailure, never offered again unless its
// content changes).
//
// Identity is by content, not path (after OpenTelemetry Collector's
// fileconsumer): a fingerprint of the first 16 KiB of decompressed content
// and of the file's tail (for .gz the CRC-32 and length trailer, for .json
// the last 16 KiB), plus the on-disk size. A renamed or copied file that
// was exported is not sent again; a rewritten one is new. A crash between
// sending and Done re-sends that one file after restart; the converter's
// IDs are deterministic, so the backend gets the same spans again
// (at-least-once).
//
// fsnotify is only a hint that makes discovery prompt; a periodic rescan of
// every directory is the truth, so lost events, overflowing inotify queues
// and file systems without inotify (NFS) only delay a file. The Run loop
// sleeps on fsnotify and timers only; it never polls in a busy loop.
//
// Known limitations, by design:
//
//   - The state file is rewritten whole on every Done and Failed (atomic
//     rename + fsync): about 12 ms per Done with 1,000 records on a busy
//     2-core VM. Records are pruned StateRetention (72h) after their file
//     was last seen and capped at 100,000, so it stays small; a journal
//     would be the next step if exports ever came by the thousand.
//   - A .json's fingerprint hashes its first and last 16 KiB: a same-size
//     rewrite that changes only the middle counts as the same file. A
//     .gz's fingerprint includes the trailer's CRC-32 of the whole content,
//     so it has no such gap.
//   - Records of files moved to ExportedDir/FailedDir are not refreshed by
//     scans (those directories are not watched) and are pruned after
//     StateRetention; a file moved back into the watched directory after
//     that is sent again (same IDs, so the backend overwrites).
//   - With several Dirs sharing one absolute ExportedDir, each watched
//     directory's disk budget counts that shared directory.
//   - Symlinked directories are never entered, even with FollowSymlinks.
//
// What it never does: it never decodes trace events (it only inflates .gz
// to check the stream is whole), never exports, and changes files only by
// moving one aside or deleting an exported one, per policy. A problem with
// one file (unreadable, vanished mid-check, corrupt, a symlink pointing out
// of the directory) is logged with its reason and never stops the others.
package watcher
