package linker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
)

// LoadOptions configures Load (and package logfiles, which follows logs).
type LoadOptions struct {
	// Format of the source; FormatUnknown detects it (vllmlog.DetectFormat).
	Format vllmlog.Format
	// Text configures the text log parser. Unlike the parser itself, Load
	// and FollowLog read times in the bridge's local zone (time.Local) when
	// Text.Location is nil, and infer the year from the current time when
	// neither Year nor Reference is set.
	Text vllmlog.TextOptions
	JSON vllmlog.JSONOptions
	OTLP vllmlog.OTLPOptions
	// MaxLineBytes caps one log line (longer lines are skipped and
	// counted). Default 4 MiB.
	MaxLineBytes int
}

// LoadResult says what Load read.
type LoadResult struct {
	Format vllmlog.Format
	// Records were merged into the timeline; Skipped lines said nothing
	// about requests; Malformed lines could not be read (FirstError says
	// why the first one failed).
	Records, Skipped, Malformed int
	FirstError                  error
}

// ErrUnknownFormat is returned when a source's format cannot be detected.
var ErrUnknownFormat = errors.New("linker: unknown request source format")

// Load reads a whole request source (a vLLM text or JSON log, or an
// OTLP/JSON file of llm_request spans) into tl; stream names it (its path).
// Bad lines are counted, not fatal; an OTLP/JSON file that does not decode
// is an error.
func Load(r io.Reader, stream string, opts LoadOptions, tl *Timeline) (LoadResult, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	res := LoadResult{Format: opts.Format}
	if res.Format == vllmlog.FormatUnknown {
		head, _ := br.Peek(64 << 10)
		res.Format = vllmlog.DetectFormat(head)
	}
	switch res.Format {
	case vllmlog.FormatOTLPJSON:
		spans, err := vllmlog.DecodeOTLPJSON(br, opts.OTLP)
		if err != nil {
			return res, fmt.Errorf("linker: %s: %w", stream, err)
		}
		for _, s := range spans {
			if err := tl.AddLLMRequestSpan(s.TraceID, s.SpanID, s.ParentSpanID, s.Start, s.End, s.Attrs); err != nil {
				res.count(err)
				continue
			}
			res.Records++
		}
		return res, nil
	case vllmlog.FormatText, vllmlog.FormatJSONLines:
	default:
		return res, fmt.Errorf("%w: %s", ErrUnknownFormat, stream)
	}
	lp := newLineParser(res.Format, opts)
	max := opts.MaxLineBytes
	if max <= 0 {
		max = 4 << 20
	}
	var line []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong && len(line)+len(chunk) <= max {
			line = append(line, chunk...)
		} else {
			tooLong = true // keep reading to the line's end, then count it
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		switch {
		case tooLong:
			res.count(fmt.Errorf("%w: line longer than %d bytes", vllmlog.ErrMalformed, max))
		case len(line) > 0:
			res.add(lp, tl, stream, line)
		}
		line, tooLong = line[:0], false
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, fmt.Errorf("linker: reading %s: %w", stream, err)
		}
	}
}

func (res *LoadResult) count(err error) {
	if errors.Is(err, vllmlog.ErrNotRequestLine) {
		res.Skipped++
		return
	}
	res.Malformed++
	if res.FirstError == nil {
		res.FirstError = err
	}
}

func (res *LoadResult) add(lp *lineParser, tl *Timeline, stream string, line []byte) {
	rec, err := lp.parse(line)
	if err != nil {
		res.count(err)
		return
	}
	tl.AddLogRecord(stream, lp.src, rec)
	res.Records++
}

type lineParser struct {
	format vllmlog.Format
	src    Source
	text   *vllmlog.TextParser
	json   vllmlog.JSONOptions
}

func newLineParser(f vllmlog.Format, opts LoadOptions) *lineParser {
	lp := &lineParser{format: f, json: opts.JSON}
	if f == vllmlog.FormatText {
		to := opts.Text
		if to.Year == 0 && to.Reference.IsZero() {
			to.Reference = time.Now()
		}
		if to.Location == nil {
			to.Location = time.Local // vLLM logs the host's local time
		}
		lp.text, lp.src = vllmlog.NewTextParser(to), SourceTextLog
	} else {
		lp.src = SourceJSONLog
	}
	return lp
}

func (lp *lineParser) parse(line []byte) (vllmlog.Record, error) {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	if len(line) == 0 {
		return vllmlog.Record{}, vllmlog.ErrNotRequestLine
	}
	if lp.format == vllmlog.FormatText {
		return lp.text.Parse(string(line))
	}
	return vllmlog.ParseJSONLine(line, lp.json)
}
