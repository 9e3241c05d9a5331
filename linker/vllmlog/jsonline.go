package vllmlog

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// JSONOptions says which fields of a JSON log line hold the time and the
// message. The zero value reads python-json-logger output as vLLM's example
// VLLM_LOGGING_CONFIG_PATH writes it.
type JSONOptions struct {
	// TimeFields are tried in order; the first present one wins. A number is
	// Unix seconds (python's %(created)f); a string is "2026-11-27
	// 14:21:03,545" (asctime with milliseconds, in Location) or RFC 3339.
	// Default: created, asctime, timestamp, time.
	TimeFields []string
	// MessageFields are tried in order. Default: message, msg.
	MessageFields []string
	// Location is the zone of asctime-style times without an offset; nil
	// means UTC.
	Location *time.Location
	// AllowPromptText keeps prompt and output text; see TextOptions.
	AllowPromptText bool
}

var (
	defaultTimeFields    = []string{"created", "asctime", "timestamp", "time"}
	defaultMessageFields = []string{"message", "msg"}
)

// ParseJSONLine parses one JSON log line, optionally preceded by vLLM's
// "(APIServer pid=7) " stdout prefix. It returns ErrNotRequestLine for valid
// records that are not about requests, an error wrapping ErrMalformed for
// lines that are not a JSON object, and one wrapping ErrNoTime for request
// records without a readable time.
func ParseJSONLine(line []byte, opts JSONOptions) (Record, error) {
	process, pid := "", Unknown
	line = bytes.TrimSpace(line)
	if len(line) > 0 && line[0] == '(' {
		if end := bytes.Index(line, []byte(") ")); end > 0 && end < 64 {
			if name, p, ok := strings.Cut(string(line[1:end]), " pid="); ok {
				if n, ok := atoi(p); ok {
					process, pid = name, n
					line = bytes.TrimSpace(line[end+2:])
				}
			}
		}
	}
	if len(line) == 0 || line[0] != '{' {
		return Record{}, malformed("json", "not a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return Record{}, &LineError{Format: "json", Reason: err.Error(), Err: ErrMalformed}
	}
	msgFields := opts.MessageFields
	if len(msgFields) == 0 {
		msgFields = defaultMessageFields
	}
	var msg string
	found := false
	for _, f := range msgFields {
		if raw, ok := fields[f]; ok {
			if err := json.Unmarshal(raw, &msg); err == nil {
				found = true
				break
			}
		}
	}
	if !found {
		return Record{}, ErrNotRequestLine
	}
	rec, err := ParseMessage(msg, opts.AllowPromptText)
	if err != nil {
		return Record{}, err
	}
	timeFields := opts.TimeFields
	if len(timeFields) == 0 {
		timeFields = defaultTimeFields
	}
	for _, f := range timeFields {
		raw, ok := fields[f]
		if !ok {
			continue
		}
		if t, res, ok := parseJSONTime(raw, opts.Location); ok {
			rec.Time, rec.Resolution = t, res
			break
		}
	}
	if rec.Time == 0 {
		return Record{}, &LineError{Format: "json", Reason: "no time field", Err: ErrNoTime}
	}
	rec.Process, rec.PID = process, pid
	return rec, nil
}

func parseJSONTime(raw json.RawMessage, loc *time.Location) (int64, int64, bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return 0, 0, false
	}
	if s[0] != '"' { // a number: Unix seconds, parsed exactly as a decimal
		_, frac, _ := strings.Cut(s, ".")
		ns, ok := decimalScaled(s, 9)
		if !ok || ns <= 0 {
			return 0, 0, false
		}
		res := int64(time.Second)
		for i := 0; i < len(frac) && i < 9; i++ {
			res /= 10
		}
		return ns, res, true
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return 0, 0, false
	}
	return parseTimeString(str, loc)
}

// parseTimeString reads asctime ("2006-01-02 15:04:05,000") or RFC 3339.
func parseTimeString(s string, loc *time.Location) (int64, int64, bool) {
	if loc == nil {
		loc = time.UTC
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixNano(), resolutionOf(s), true
	}
	norm := strings.Replace(s, ",", ".", 1)
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, norm, loc); err == nil {
			return t.UnixNano(), resolutionOf(norm), true
		}
	}
	return 0, 0, false
}

// resolutionOf returns the granularity of a time string's seconds field.
func resolutionOf(s string) int64 {
	res := int64(time.Second)
	i := strings.LastIndexAny(s, ".,")
	if i < 0 || i < len(s)-12 {
		return res
	}
	for j := i + 1; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
		res /= 10
	}
	if res == 0 {
		res = 1
	}
	return res
}
