package converter

import "io"

// Spill is the scratch storage Options.Spill names: the converter writes
// each full args chunk once with WriteAt, at increasing offsets from 0,
// and reads chunks back with ReadAt while it builds spans. An *os.File
// (from os.CreateTemp) fits; the converter never closes or removes it.
type Spill interface {
	io.ReaderAt
	io.WriterAt
}

// spillCache is how many spilled chunks are kept in memory at once. Spans
// are built trace by trace in file order, so the args read for one trace
// come from a few runs of neighbouring chunks (one per thread and stream).
const spillCache = 8

type spilledChunk struct {
	off int64
	n   int
}

type cachedChunk struct {
	chunk int // -1 = empty
	buf   []byte
	used  uint64
}

// spillChunk writes chunk c to the spill and drops it from memory.
func (a *arena) spillChunk(c int) {
	for len(a.spilled) <= c {
		a.spilled = append(a.spilled, spilledChunk{})
	}
	b := a.chunks[c]
	if a.err == nil {
		if _, err := a.spill.WriteAt(b, a.spillEnd); err != nil {
			a.err = err
		}
	}
	a.spilled[c] = spilledChunk{off: a.spillEnd, n: len(b)}
	a.spillEnd += int64(len(b))
	a.chunks[c] = nil
}

// load returns spilled chunk c, reading it into the least recently used
// cache slot when it is not cached. It returns nil after a spill error.
func (a *arena) load(c int) []byte {
	if a.err != nil || c >= len(a.spilled) {
		return nil
	}
	a.tick++
	victim := 0 // the least recently used slot; empty slots have used == 0
	for i := range a.cache {
		e := &a.cache[i]
		if e.buf != nil && e.chunk == c {
			e.used = a.tick
			return e.buf
		}
		if e.used < a.cache[victim].used {
			victim = i
		}
	}
	sc := a.spilled[c]
	e := &a.cache[victim]
	if cap(e.buf) < sc.n {
		e.buf = make([]byte, sc.n)
	}
	e.buf = e.buf[:sc.n]
	if n, err := a.spill.ReadAt(e.buf, sc.off); n < sc.n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		a.err = err
		e.buf = nil
		return nil
	}
	e.chunk, e.used = c, a.tick
	return e.buf
}
