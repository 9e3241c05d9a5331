package containerlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Format is how a log file's lines are wrapped.
type Format uint8

// Formats.
const (
	// FormatUnknown means nothing was seen yet (an empty line).
	FormatUnknown Format = iota
	// FormatPlain is a file written by the program itself: each line is
	// the program's own line.
	FormatPlain
	// FormatCRI is the CRI logging format the kubelet writes.
	FormatCRI
	// FormatDocker is Docker's json-file logging driver.
	FormatDocker
)

// String names the format for logs and summaries.
func (f Format) String() string {
	switch f {
	case FormatPlain:
		return "plain"
	case FormatCRI:
		return "cri"
	case FormatDocker:
		return "docker-json"
	}
	return "unknown"
}

// Line is one line as the runtime wrote it.
type Line struct {
	// Time is the runtime's timestamp in Unix ns; Resolution its
	// granularity in ns (from the digits of its fraction: 1 for nine).
	Time, Resolution int64
	// Stream is "stdout" or "stderr".
	Stream string
	// Partial says the text continues on the stream's next line.
	Partial bool
	// Text is the program's text, without the newline. For CRI it aliases
	// the input.
	Text []byte
}

// ErrMalformed says a line is not in the format it was read as.
var ErrMalformed = errors.New("containerlog: malformed line")

func malformed(format, why string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, format, why)
}

// DetectFormat says which format a file is in from one of its lines (the
// first non-empty one): CRI when it parses as CRI, Docker when it is a JSON
// object with "log" and "time", plain otherwise, unknown for a blank line.
func DetectFormat(line []byte) Format {
	line = bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return FormatUnknown
	}
	if _, err := ParseCRI(line); err == nil {
		return FormatCRI
	}
	if t := bytes.TrimLeft(line, " \t"); len(t) > 0 && t[0] == '{' && bytes.Contains(t, []byte(`"log"`)) {
		if _, err := ParseDocker(line); err == nil {
			return FormatDocker
		}
	}
	return FormatPlain
}

// ParseCRI reads one CRI line: "<time> <stream> <tag> <text>". The tag is
// "F" (full) or "P" (partial), optionally followed by ":"-separated extra
// tags, which are ignored. The text may be empty.
func ParseCRI(line []byte) (Line, error) {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	ts, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return Line{}, malformed("cri", "no stream field")
	}
	t, res, err := parseTime(ts)
	if err != nil {
		return Line{}, malformed("cri", err.Error())
	}
	stream, rest, ok := bytes.Cut(rest, []byte(" "))
	if !ok || !validStream(stream) {
		return Line{}, malformed("cri", "stream is not stdout or stderr")
	}
	tag, text, _ := bytes.Cut(rest, []byte(" "))
	if i := bytes.IndexByte(tag, ':'); i >= 0 {
		tag = tag[:i]
	}
	var partial bool
	switch string(tag) {
	case "F":
	case "P":
		partial = true
	default:
		return Line{}, malformed("cri", "tag is not F or P")
	}
	return Line{Time: t, Resolution: res, Stream: string(stream), Partial: partial, Text: text}, nil
}

func validStream(s []byte) bool { return string(s) == "stdout" || string(s) == "stderr" }

type dockerLine struct {
	Log    *string `json:"log"`
	Stream string  `json:"stream"`
	Time   string  `json:"time"`
}

// ParseDocker reads one line of Docker's json-file driver. A "log" value
// that does not end in a newline is a partial line (Docker cuts lines at
// 16 KiB). A missing stream is taken as stdout.
func ParseDocker(line []byte) (Line, error) {
	var d dockerLine
	if err := json.Unmarshal(line, &d); err != nil {
		return Line{}, malformed("docker-json", err.Error())
	}
	if d.Log == nil {
		return Line{}, malformed("docker-json", `no "log" field`)
	}
	t, res, err := parseTime([]byte(d.Time))
	if err != nil {
		return Line{}, malformed("docker-json", err.Error())
	}
	switch d.Stream {
	case "":
		d.Stream = "stdout"
	case "stdout", "stderr":
	default:
		return Line{}, malformed("docker-json", "stream is not stdout or stderr")
	}
	text := []byte(*d.Log)
	partial := true
	if n := len(text); n > 0 && text[n-1] == '\n' {
		text, partial = text[:n-1], false
		if n := len(text); n > 0 && text[n-1] == '\r' {
			text = text[:n-1]
		}
	}
	return Line{Time: t, Resolution: res, Stream: d.Stream, Partial: partial, Text: text}, nil
}

// parseTime reads an RFC 3339 time with up to nine fraction digits and
// returns it in Unix ns with its resolution.
func parseTime(b []byte) (int64, int64, error) {
	// The cheap shape check keeps time.Parse off ordinary text lines.
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' {
		return 0, 0, errors.New("no RFC 3339 time")
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, 0, errors.New("no RFC 3339 time")
	}
	res := int64(time.Second)
	if i := bytes.IndexByte(b, '.'); i > 0 {
		for j := i + 1; j < len(b) && b[j] >= '0' && b[j] <= '9' && res > 1; j++ {
			res /= 10
		}
	}
	return t.UnixNano(), res, nil
}
