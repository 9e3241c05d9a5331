// Package containerlog reads the two formats container runtimes write a
// container's stdout and stderr in, so that vLLM's own log lines can be
// read out of them:
//
//   - CRI (the kubelet's /var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log):
//     "<RFC 3339 time, ns, UTC> <stdout|stderr> <P|F> <text>", where P marks a
//     partial line that continues on the next line of the same stream;
//   - Docker's json-file driver:
//     {"log":"<text>\n","stream":"stdout","time":"<RFC 3339, ns>"}, where a
//     log value without its final newline is partial.
//
// DetectFormat tells them (and plain text) apart from one line; ParseCRI and
// ParseDocker read one line; a Joiner joins partial lines per stream and
// hands back whole lines with the runtime's timestamp, which is the line's
// time (nanoseconds, UTC, with a year) whatever the text inside says.
//
// The parsers are pure (bytes in, values out) and never keep, log or send
// the text they read: what the text is (vLLM's text or JSON log) is package
// vllmlog's business, and prompts and outputs in it are dropped there.
package containerlog
