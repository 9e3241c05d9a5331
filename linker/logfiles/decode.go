package logfiles

import (
	"bytes"
	"errors"
	"os"
	"time"
	"unicode/utf8"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/containerlog"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
)

// decoder turns one file's lines into timeline records: container wrapper
// (detected from the first line), partial lines joined, vLLM format
// (detected from the first vLLM line unless configured), the runtime's
// timestamp as the line's time, and the file's task.
type decoder struct {
	s        *Set
	e        *entry
	inFolder bool
	task     string
	taskSet  bool
	mtime    time.Time

	cont containerlog.Format
	join containerlog.Joiner
	vfmt vllmlog.Format
	text *vllmlog.TextParser
	src  linker.Source

	lines, vllmLines, records, notRequest, malformed int64
	binary                                           bool
	warning                                          string
}

func (s *Set) newDecoder(c candidate, e *entry) *decoder {
	d := &decoder{s: s, e: e, inFolder: c.inFolder, vfmt: s.cfg.Format}
	d.join.MaxBytes = s.cfg.MaxLineBytes
	if s.task != nil {
		if m := s.task.FindStringSubmatch(c.path); m != nil {
			d.task, d.taskSet = m[s.task.SubexpIndex("task")], true
		}
	}
	// The text log has no year: it is taken from the file's time unless
	// configured.
	if fi, err := os.Stat(c.path); err == nil {
		d.mtime = fi.ModTime()
	}
	if d.vfmt != vllmlog.FormatUnknown {
		d.setFormat(d.vfmt)
	}
	return d
}

func (d *decoder) setFormat(f vllmlog.Format) {
	d.vfmt = f
	if f == vllmlog.FormatText {
		to := d.s.cfg.Text
		if to.Year == 0 && to.Reference.IsZero() {
			to.Reference = d.mtime
			if to.Reference.IsZero() {
				to.Reference = time.Now()
			}
		}
		if to.Location == nil {
			to.Location = time.Local // vLLM logs the host's local time
		}
		d.text, d.src = vllmlog.NewTextParser(to), linker.SourceTextLog
	} else {
		d.src = linker.SourceJSONLog
	}
}

// warn logs the file's one warning.
func (d *decoder) warn(msg string) {
	if d.warning != "" {
		return
	}
	d.warning = msg
	d.s.count(func(st *Stats) { st.Skipped++ })
	d.s.log.Warn("request log input skipped", "log", d.e.path, "reason", msg)
}

// line takes one raw line of the file (without its newline); tooLong says
// it was over MaxLineBytes and cut.
func (d *decoder) line(b []byte, tooLong bool) {
	if d.binary {
		return
	}
	d.lines++
	d.s.count(func(st *Stats) { st.Lines++ })
	if tooLong {
		d.malformed++
		d.warn("lines longer than the line cap were skipped")
		return
	}
	if bytes.IndexByte(b, 0) >= 0 {
		d.binary = true
		d.warn("binary data: the rest of the file is skipped")
		return
	}
	if !utf8.Valid(b) {
		d.malformed++
		d.warn("lines that are not valid UTF-8 were skipped")
		return
	}
	if d.cont == containerlog.FormatUnknown {
		d.cont = containerlog.DetectFormat(b)
		if d.cont == containerlog.FormatUnknown {
			return
		}
	}
	var t, res int64
	switch d.cont {
	case containerlog.FormatCRI, containerlog.FormatDocker:
		var l containerlog.Line
		var err error
		if d.cont == containerlog.FormatCRI {
			l, err = containerlog.ParseCRI(b)
		} else {
			l, err = containerlog.ParseDocker(b)
		}
		if err != nil {
			d.malformed++
			return
		}
		j, ok := d.join.Add(l)
		if !ok {
			return
		}
		if j.Truncated {
			d.malformed++
			d.warn("lines longer than the line cap were skipped")
			return
		}
		b, t, res = j.Text, j.Time, j.Resolution
	}
	d.inner(b, t, res)
}

// inner parses one vLLM line; t (Unix ns) and res are the container
// runtime's timestamp, 0 for a plain file.
func (d *decoder) inner(b []byte, t, res int64) {
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return
	}
	if d.vfmt == vllmlog.FormatUnknown {
		f := vllmlog.DetectFormat(append(append(make([]byte, 0, len(b)+1), b...), '\n'))
		if f != vllmlog.FormatText && f != vllmlog.FormatJSONLines {
			d.notRequest++
			return // not yet recognisable (startup noise)
		}
		d.setFormat(f)
	}
	var rec vllmlog.Record
	var err error
	if d.vfmt == vllmlog.FormatText {
		rec, err = d.text.Parse(string(b))
		if d.vllmLines == 0 && errors.Is(err, vllmlog.ErrNotRequestLine) && vllmlog.DetectFormat(append(b[:len(b):len(b)], '\n')) == vllmlog.FormatText {
			d.vllmLines++
		}
	} else {
		rec, err = vllmlog.ParseJSONLine(b, d.s.cfg.JSON)
		if d.vllmLines == 0 && errors.Is(err, vllmlog.ErrNotRequestLine) {
			d.vllmLines++ // a JSON log record, just not about requests
		}
	}
	switch {
	case errors.Is(err, vllmlog.ErrNotRequestLine):
		d.notRequest++
		return
	case err != nil:
		d.malformed++
		return
	}
	d.vllmLines++
	if t != 0 {
		rec.Time, rec.Resolution = t, res
	}
	rec.Task = d.taskFor()
	d.s.tl.AddLogRecord(d.e.stream, d.src, rec)
	d.s.srcs[d.src] = true
	d.records++
	d.s.count(func(st *Stats) { st.Records++ })
}

// taskFor is the file's task: the task pattern's group where it matched,
// else the file's stem for a plain file found in a folder.
func (d *decoder) taskFor() string {
	if d.taskSet || d.s.task != nil || d.s.cfg.TaskPattern == "none" {
		return d.task
	}
	if d.inFolder && d.cont == containerlog.FormatPlain {
		return stem(d.e.stream)
	}
	return ""
}

// flush delivers the partial lines the runtime never completed.
func (d *decoder) flush() {
	for _, j := range d.join.Flush() {
		d.inner(j.Text, j.Time, j.Resolution)
	}
}

// idle is called when the file was read to its end: a file with lines but
// not a single vLLM line gets its warning.
func (d *decoder) idle() {
	if d.lines > 0 && d.vllmLines == 0 && !d.binary && d.notRequest+d.malformed > 0 {
		d.warn("no vLLM log line in the file (so far)")
	}
}

func (d *decoder) stats(path string) FileStats {
	fs := FileStats{Path: path, Container: d.cont.String(), Format: d.vfmt.String(), Task: d.taskFor(),
		Lines: d.lines, Records: d.records, NotRequest: d.notRequest, Malformed: d.malformed, Warning: d.warning}
	if d.cont == containerlog.FormatUnknown {
		fs.Container = containerlog.FormatPlain.String()
	}
	return fs
}
