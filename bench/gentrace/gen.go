package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrLayout says the input does not look like a Kineto trace as the
// profiler writes it (a "traceEvents" array of objects, one per line
// group, separated by "},\n  {").
var ErrLayout = errors.New("gentrace: input is not in Kineto's layout")

// slotKind says how a number in the template is shifted per copy.
type slotKind uint8

const (
	slotTs slotKind = iota // integer µs part of "ts"
	slotID                 // "correlation", "External id", flow "id"
)

// slot is one number of the events template: the text before it, its kind
// and its value.
type slot struct {
	before []byte
	kind   slotKind
	value  int64
}

// template is a trace split into head ("…traceEvents": [), the events
// with their shiftable numbers, and tail (from the closing "]").
type template struct {
	head, tail []byte
	slots      []slot
	rest       []byte // events text after the last slot
	tsShift    int64  // µs added per copy
	idShift    int64  // added to every id per copy
	eventsLen  int
}

var (
	eventsKey = []byte(`"traceEvents": [`)
	numKeys   = []struct {
		key  []byte
		kind slotKind
	}{
		{[]byte(`"ts": `), slotTs},
		{[]byte(`"correlation": `), slotID},
		{[]byte(`"External id": `), slotID},
		{[]byte(`"id": `), slotID},
	}
)

// parseTemplate splits a plain-JSON Kineto trace into a template.
func parseTemplate(plain []byte) (*template, error) {
	start := bytes.Index(plain, eventsKey)
	end := bytes.LastIndexByte(plain, ']')
	if start < 0 || end < start {
		return nil, ErrLayout
	}
	start += len(eventsKey)
	t := &template{head: plain[:start], tail: plain[end:]}
	events := bytes.TrimRight(plain[start:end], " \t\r\n")
	t.eventsLen = len(events)
	minTs, maxTs, maxID := int64(-1), int64(0), int64(0)
	prev := 0
	for i := 0; i < len(events); {
		j := bytes.IndexByte(events[i:], '"')
		if j < 0 {
			break
		}
		i += j
		matched := false
		for _, k := range numKeys {
			if !bytes.HasPrefix(events[i:], k.key) {
				continue
			}
			d := i + len(k.key)
			e := d
			for e < len(events) && events[e] >= '0' && events[e] <= '9' {
				e++
			}
			if e == d || e-d > 18 {
				break
			}
			v, _ := strconv.ParseInt(string(events[d:e]), 10, 64)
			t.slots = append(t.slots, slot{before: events[prev:d], kind: k.kind, value: v})
			if k.kind == slotTs {
				if minTs < 0 || v < minTs {
					minTs = v
				}
				maxTs = max(maxTs, v)
			} else {
				maxID = max(maxID, v)
			}
			prev, i, matched = e, e, true
			break
		}
		if !matched {
			// Skip this string (keys and values never hold '"' unescaped).
			i++
			for i < len(events) && events[i] != '"' {
				if events[i] == '\\' {
					i++
				}
				i++
			}
			i++
		}
	}
	if len(t.slots) == 0 || minTs < 0 {
		return nil, ErrLayout
	}
	t.rest = events[prev:]
	// Each copy starts a whole second after the previous one ended, and its
	// ids start above every id of the previous copies.
	t.tsShift = ((maxTs-minTs)/1_000_000 + 2) * 1_000_000
	t.idShift = maxID + 1
	return t, nil
}

// appendCopy appends copy c of the events to dst.
func (t *template) appendCopy(dst []byte, c int64) []byte {
	for _, s := range t.slots {
		dst = append(dst, s.before...)
		if s.kind == slotTs {
			dst = strconv.AppendInt(dst, s.value+c*t.tsShift, 10)
		} else {
			dst = strconv.AppendInt(dst, s.value+c*t.idShift, 10)
		}
	}
	return append(dst, t.rest...)
}

var eventSep = []byte("},\n  {")

// generate writes a trace of about size bytes (at least one copy of the
// events; the last copy is cut at an event boundary) and returns the bytes
// written and the number of copies begun.
func generate(w io.Writer, t *template, size int64) (int64, int, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	n := int64(0)
	write := func(b []byte) error {
		m, err := bw.Write(b)
		n += int64(m)
		return err
	}
	if err := write(t.head); err != nil {
		return n, 0, err
	}
	budget := size - int64(len(t.head)) - int64(len(t.tail)) - 1
	buf := make([]byte, 0, t.eventsLen+t.eventsLen/8)
	copies := 0
	for c := int64(0); c == 0 || budget > 0; c++ {
		buf = buf[:0]
		if c > 0 {
			buf = append(buf, ",\n  "...)
		}
		buf = t.appendCopy(buf, c)
		if int64(len(buf)) > budget && c > 0 {
			cut := bytes.LastIndex(buf[:budget], eventSep)
			if cut < 0 {
				break
			}
			buf = buf[:cut+1] // keep the closing '}'
		}
		copies++
		budget -= int64(len(buf))
		if err := write(buf); err != nil {
			return n, copies, err
		}
	}
	if err := write([]byte("\n  ")); err != nil {
		return n, copies, err
	}
	if err := write(t.tail); err != nil {
		return n, copies, err
	}
	if err := bw.Flush(); err != nil {
		return n, copies, fmt.Errorf("gentrace: writing: %w", err)
	}
	return n, copies, nil
}
