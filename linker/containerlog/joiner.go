package containerlog

// Joiner joins partial lines: the fragments of one line of one stream
// (stdout or stderr, which interleave) are concatenated until the fragment
// that ends it. The joined line keeps its first fragment's time. A line
// that grows past MaxBytes is cut there and reported Truncated; the rest
// of its fragments are dropped. It is not safe for concurrent use.
type Joiner struct {
	// MaxBytes caps a joined line; 0 means 1 MiB.
	MaxBytes int
	streams  map[string]*pending
}

type pending struct {
	time, res int64
	text      []byte
	cut       bool
	open      bool
}

// Joined is one whole line of one stream.
type Joined struct {
	Time, Resolution int64
	Stream           string
	Text             []byte // valid until the next call to Add
	Truncated        bool
}

// Add takes one parsed line and returns the whole line it completes, if
// any (ok is false while a partial line waits for its end).
func (j *Joiner) Add(l Line) (Joined, bool) {
	max := j.MaxBytes
	if max <= 0 {
		max = 1 << 20
	}
	if !l.Partial {
		p := j.streams[l.Stream]
		if p == nil || !p.open {
			if len(l.Text) > max {
				return Joined{Time: l.Time, Resolution: l.Resolution, Stream: l.Stream, Text: l.Text[:max], Truncated: true}, true
			}
			return Joined{Time: l.Time, Resolution: l.Resolution, Stream: l.Stream, Text: l.Text}, true
		}
		p.append(l.Text, max)
		p.open = false
		return Joined{Time: p.time, Resolution: p.res, Stream: l.Stream, Text: p.text, Truncated: p.cut}, true
	}
	if j.streams == nil {
		j.streams = make(map[string]*pending, 2)
	}
	p := j.streams[l.Stream]
	if p == nil {
		p = &pending{}
		j.streams[l.Stream] = p
	}
	if !p.open {
		p.time, p.res, p.text, p.cut, p.open = l.Time, l.Resolution, p.text[:0], false, true
	}
	p.append(l.Text, max)
	return Joined{}, false
}

func (p *pending) append(b []byte, max int) {
	if p.cut {
		return
	}
	if room := max - len(p.text); len(b) > room {
		p.text, p.cut = append(p.text, b[:room]...), true
		return
	}
	p.text = append(p.text, b...)
}

// Idle reports whether no partial line waits for its end.
func (j *Joiner) Idle() bool {
	for _, p := range j.streams {
		if p.open {
			return false
		}
	}
	return true
}

// Flush returns the partial lines still waiting (a file that ended, or was
// rotated away, in the middle of a line), one per stream, and forgets them.
func (j *Joiner) Flush() []Joined {
	var out []Joined
	for _, s := range []string{"stdout", "stderr"} {
		if p := j.streams[s]; p != nil && p.open {
			out = append(out, Joined{Time: p.time, Resolution: p.res, Stream: s, Text: append([]byte(nil), p.text...), Truncated: p.cut})
			p.open = false
		}
	}
	return out
}
