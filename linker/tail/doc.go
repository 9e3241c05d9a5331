// Package tail follows growing log files the way `tail -F` does: it
// delivers complete lines, holds a partial last line until its newline
// arrives, keeps following across rotation by rename (the old file is read
// to its end, then the new one from its start), across truncation in place
// (copytruncate: reading restarts at offset 0), and waits for a file that
// does not exist yet.
//
// It polls (stat and read every PollInterval) rather than relying on file
// system notifications, which miss events on network and overlay file
// systems; the cost is at most one interval of latency.
//
// It never parses what it reads, never writes or moves files, and keeps no
// state on disk: a restarted daemon starts again at Options.Start.
package tail
