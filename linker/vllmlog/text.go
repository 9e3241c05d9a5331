package vllmlog

import (
	"strings"
	"time"
)

// TextOptions says how to read times in vLLM's default text log, whose
// "%m-%d %H:%M:%S" timestamps have no year, no sub-second part and no zone.
type TextOptions struct {
	// Location is the vLLM host's time zone; nil means UTC.
	Location *time.Location
	// Year, when non-zero, is the year of every line.
	Year int
	// Reference, used when Year is zero, is a time near the lines (the
	// file's modification time, or now): each line gets the year that puts
	// it closest to Reference, so "12-31 23:59:59" read on 1 January lands
	// in the previous year. TextParser then follows Dec→Jan rollovers.
	Reference time.Time
	// AllowPromptText keeps prompt and output text in Record.Prompt and
	// Record.Output. Off by default: the text is dropped while parsing.
	AllowPromptText bool
}

// TextParser parses the lines of one text log in order. Besides
// ParseTextLine it remembers the last year used, so a log that runs from
// December into January gets increasing times. It is not safe for
// concurrent use; use one per file.
type TextParser struct {
	opts      TextOptions
	year      int
	lastTime  int64
	lastStamp int64 // time of the last line with a timestamp
}

// NewTextParser returns a parser for one log stream.
func NewTextParser(opts TextOptions) *TextParser { return &TextParser{opts: opts} }

// Parse parses one line. See ParseTextLine.
func (p *TextParser) Parse(line string) (Record, error) {
	h, msg, err := splitTextLine(line)
	if err != nil {
		// uvicorn's access log has its own format, without a time.
		if k, ok := profileMarker(line); ok {
			rec := newRecord(k)
			rec.Time, rec.Resolution = p.lastStamp, int64(time.Second)
			return rec, nil
		}
		return Record{}, err
	}
	loc := p.opts.Location
	if loc == nil {
		loc = time.UTC
	}
	year := p.opts.Year
	if year == 0 {
		if p.year == 0 {
			p.year = inferYear(h, loc, p.opts.Reference)
		}
		year = p.year
		t := h.at(year, loc)
		// A jump back of more than half a year is a new year (Dec → Jan).
		if p.lastTime != 0 && t < p.lastTime-183*24*int64(time.Hour) {
			p.year++
			year = p.year
			t = h.at(year, loc)
		}
		p.lastTime = t
	}
	p.lastStamp = h.at(year, loc)
	rec, err := ParseMessage(msg, p.opts.AllowPromptText)
	if err != nil {
		return Record{}, err
	}
	rec.Time = p.lastStamp
	rec.Resolution = int64(time.Second)
	rec.Process, rec.PID = h.process, h.pid
	return rec, nil
}

// ParseTextLine parses one line of vLLM's default text log:
//
//	[(APIServer pid=7) ][VLLM_LOGGING_PREFIX]INFO 11-27 14:21:03 [logger.py:63] <message>
//
// with or without the per-process prefix, with colour codes stripped. It
// returns ErrNotRequestLine for lines that are valid but not about requests
// (and for non-vLLM lines such as uvicorn's access log, except the
// /start_profile and /stop_profile lines), and an error wrapping
// ErrMalformed for request lines it cannot read.
func ParseTextLine(line string, opts TextOptions) (Record, error) {
	return NewTextParser(opts).Parse(line)
}

type textHeader struct {
	process                    string
	pid                        int
	month, day, hour, min, sec int
}

func (h textHeader) at(year int, loc *time.Location) int64 {
	return time.Date(year, time.Month(h.month), h.day, h.hour, h.min, h.sec, 0, loc).UnixNano()
}

func inferYear(h textHeader, loc *time.Location, ref time.Time) int {
	if ref.IsZero() {
		ref = time.Date(2000, 1, 1, 0, 0, 0, 0, loc) // deterministic; callers should set one
	}
	best, bestD := ref.Year(), int64(-1)
	for _, y := range []int{ref.Year() - 1, ref.Year(), ref.Year() + 1} {
		d := h.at(y, loc) - ref.UnixNano()
		if d < 0 {
			d = -d
		}
		if bestD < 0 || d < bestD {
			best, bestD = y, d
		}
	}
	return best
}

var levels = [...]string{"DEBUG ", "INFO ", "WARNING ", "ERROR ", "CRITICAL "}

// splitTextLine finds the level, the "MM-DD HH:MM:SS" time and the
// "[file:line] " location, and returns the header and the message.
func splitTextLine(line string) (textHeader, string, error) {
	var h textHeader
	h.pid = Unknown
	if strings.IndexByte(line, 0x1b) >= 0 {
		line = stripANSI(line)
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "(") {
		if end := strings.Index(line, ") "); end > 0 && end < 64 {
			inner := line[1:end]
			if name, pid, ok := strings.Cut(inner, " pid="); ok {
				if n, ok := atoi(pid); ok {
					h.process, h.pid = name, n
					line = line[end+2:]
				}
			}
		}
	}
	// Find "<LEVEL> MM-DD HH:MM:SS [" anywhere near the start (a
	// VLLM_LOGGING_PREFIX may come first).
	for off := 0; off < len(line) && off < 256; {
		i, lv := -1, ""
		for _, l := range levels {
			if j := strings.Index(line[off:], l); j >= 0 && (i < 0 || j < i) {
				i, lv = j, l
			}
		}
		if i < 0 {
			break
		}
		start := off + i + len(lv)
		if msg, ok := h.parseClock(line[start:]); ok {
			return h, msg, nil
		}
		off = start
	}
	return h, "", ErrNotRequestLine
}

// parseClock reads "MM-DD HH:MM:SS [file:line] " and returns the message.
func (h *textHeader) parseClock(s string) (string, bool) {
	if len(s) < 16 || s[2] != '-' || s[5] != ' ' || s[8] != ':' || s[11] != ':' || s[14] != ' ' {
		return "", false
	}
	var ok [5]bool
	h.month, ok[0] = atoi(s[0:2])
	h.day, ok[1] = atoi(s[3:5])
	h.hour, ok[2] = atoi(s[6:8])
	h.min, ok[3] = atoi(s[9:11])
	h.sec, ok[4] = atoi(s[12:14])
	for _, v := range ok {
		if !v {
			return "", false
		}
	}
	if h.month < 1 || h.month > 12 || h.day < 1 || h.day > 31 || h.hour > 23 || h.min > 59 || h.sec > 60 {
		return "", false
	}
	rest := s[15:]
	if strings.HasPrefix(rest, "[") {
		if end := strings.Index(rest, "] "); end > 0 {
			rest = rest[end+2:]
		} else if strings.HasSuffix(rest, "]") {
			rest = ""
		}
	}
	return rest, true
}

// stripANSI removes CSI escape sequences (colour codes).
func stripANSI(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
