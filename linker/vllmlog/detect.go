package vllmlog

import (
	"bytes"
	"strings"
)

// Format is a request-source file format.
type Format uint8

// Formats DetectFormat recognises.
const (
	FormatUnknown Format = iota
	// FormatText is vLLM's default text log.
	FormatText
	// FormatJSONLines is one JSON log record per line.
	FormatJSONLines
	// FormatOTLPJSON is OTLP/JSON trace data holding llm_request spans.
	FormatOTLPJSON
)

// String returns the name used in flags and config: text, json, otlp-json.
func (f Format) String() string {
	switch f {
	case FormatText:
		return "text"
	case FormatJSONLines:
		return "json"
	case FormatOTLPJSON:
		return "otlp-json"
	}
	return "unknown"
}

// ParseFormat is the inverse of Format.String; it reports false for
// anything else (including "auto").
func ParseFormat(s string) (Format, bool) {
	for _, f := range []Format{FormatText, FormatJSONLines, FormatOTLPJSON} {
		if strings.EqualFold(s, f.String()) {
			return f, true
		}
	}
	return FormatUnknown, false
}

// DetectFormat guesses the format of a request source from its first bytes
// (a few KiB are plenty): OTLP/JSON when the first JSON object holds
// "resourceSpans", JSON lines when the first non-empty line is an object
// (after an optional "(APIServer pid=N) " prefix), text when any of the
// first lines has a vLLM log header.
func DetectFormat(head []byte) Format {
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if i := bytes.Index(trimmed, []byte(`"resourceSpans"`)); i >= 0 {
			return FormatOTLPJSON
		}
		return FormatJSONLines
	}
	lines := bytes.Split(head, []byte("\n"))
	for i, ln := range lines {
		if i == len(lines)-1 && len(lines) > 1 {
			break // possibly cut short
		}
		ln = bytes.TrimSpace(ln)
		if len(ln) == 0 {
			continue
		}
		if ln[0] == '(' {
			if end := bytes.Index(ln, []byte(") ")); end > 0 && end+2 < len(ln) && ln[end+2] == '{' {
				return FormatJSONLines
			}
		}
		if _, _, err := splitTextLine(string(ln)); err == nil {
			return FormatText
		}
	}
	return FormatUnknown
}
