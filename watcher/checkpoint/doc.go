// Package checkpoint reads and writes the watcher's state file: the list of
// trace files that were fully exported (acknowledged by the backend) or
// failed for good, each identified by content fingerprint and size.
//
// Save is atomic and durable: it writes a temporary file in the same
// directory, fsyncs it, renames it over the old file and fsyncs the
// directory, so after a crash the file holds either the old or the new
// records, never a mix. Load reads every encoding version this package has
// written and ignores fields it does not know; it refuses, with a typed
// error, a file from a newer version rather than guess at it.
//
// The package never decides what a record means, never looks at trace
// files, and keeps no state between calls: the watcher owns the index.
package checkpoint
