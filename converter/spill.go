package converter

import (
	"io"
	"unsafe"
)

// Spill is the scratch storage Options.Spill names: the converter writes
// with WriteAt at increasing offsets from 0 (full args chunks, full record
// chunks and the per-window and per-trace buckets, each piece once) and
// reads pieces back with ReadAt while it resolves structure and builds
// spans. An *os.File (from os.CreateTemp) fits; the converter never
// closes or removes it.
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
	var off int64
	if a.sc != nil {
		off = a.sc.write(b)
	} else {
		off = a.spillEnd
		if a.err == nil {
			if _, err := a.spill.WriteAt(b, off); err != nil {
				a.err = err
			}
		}
		a.spillEnd += int64(len(b))
	}
	a.spilled[c] = spilledChunk{off: off, n: len(b)}
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
	if a.sc != nil {
		if !a.sc.read(e.buf, sc.off) {
			a.err = a.sc.err
			e.buf = nil
			return nil
		}
	} else if n, err := a.spill.ReadAt(e.buf, sc.off); n < sc.n {
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

// scratch is where records and buckets go while a trace is converted:
// Options.Spill when set (small pieces are gathered into one write of up
// to scratchPending bytes), else memory. Pieces are written once, at
// increasing offsets, and read back whole by the offset write returned;
// in memory a piece is dropped once it was read for the last time (free).
// One code path serves both, so the output cannot depend on the choice.
type scratch struct {
	spill   Spill
	end     int64  // next offset
	flushed int64  // bytes written to spill (== its size)
	pending []byte // spill: pieces at offsets [flushed, end) not yet written
	gather  int    // size of pending; 0 = scratchPending
	mem     map[int64][]byte
	written int64 // bytes of pieces written (Stats.ScratchBytes)
	err     error // first spill error; reads fail after it
}

const scratchPending = 1 << 20

func newScratch(spill Spill) *scratch {
	return &scratch{spill: spill, mem: map[int64][]byte{}}
}

// write stores b (copied) and returns its offset.
func (s *scratch) write(b []byte) int64 {
	off := s.end
	s.end += int64(len(b))
	s.written += int64(len(b))
	if s.spill == nil {
		s.mem[off] = append([]byte(nil), b...)
		return off
	}
	if s.gather <= 0 {
		s.gather = scratchPending
	}
	if len(s.pending)+len(b) > s.gather {
		s.flush()
	}
	if len(b) >= s.gather/2 {
		s.writeAt(b, off)
		return off
	}
	if s.pending == nil {
		s.pending = make([]byte, 0, s.gather)
	}
	s.pending = append(s.pending, b...)
	return off
}

func (s *scratch) flush() {
	if len(s.pending) > 0 {
		s.writeAt(s.pending, s.flushed)
		s.pending = s.pending[:0]
	}
}

func (s *scratch) writeAt(b []byte, off int64) {
	if s.err == nil {
		if _, err := s.spill.WriteAt(b, off); err != nil {
			s.err = err
		}
	}
	s.flushed = off + int64(len(b))
}

// read fills b with the piece written at off; false after a spill error
// (s.err says which).
func (s *scratch) read(b []byte, off int64) bool {
	if s.spill == nil {
		copy(b, s.mem[off])
		return true
	}
	if s.err != nil {
		return false
	}
	if off >= s.flushed {
		copy(b, s.pending[off-s.flushed:])
		return true
	}
	if n, err := s.spill.ReadAt(b, off); n < len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		s.err = err
		return false
	}
	return true
}

// free drops the piece at off when it is held in memory.
func (s *scratch) free(off int64) {
	if s.spill == nil {
		delete(s.mem, off)
	}
}

// asBytes views a slice of pointer-free values as bytes.
func asBytes[T any](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(z)))
}

// bucketSet is a set of append-only buckets of pointer-free values kept in
// scratch storage: each bucket has a small tail in memory (tailCap values,
// allocated on first use) that is written to scratch when full, so memory
// stays bounded whatever the number of values, and a bucket reads back in
// the order it was written.
type bucketSet[T any] struct {
	sc      *scratch
	tailCap int
	tails   [][]T
	pieces  [][]piece
	n       []int
}

type piece struct {
	off int64
	n   int32
}

// bucketBudget is the memory the tails of one bucketSet may take.
const bucketBudget = 8 << 20

// newBucketSet makes buckets with tails of tailCap values, or when tailCap
// is 0 of what shares bucketBudget (16 to 8192 values).
func newBucketSet[T any](sc *scratch, buckets, tailCap int) *bucketSet[T] {
	if tailCap <= 0 {
		var z T
		tailCap = min(max(bucketBudget/int(unsafe.Sizeof(z))/max(1, buckets), 16), 8192)
	}
	return &bucketSet[T]{
		sc: sc, tailCap: tailCap,
		tails: make([][]T, buckets), pieces: make([][]piece, buckets), n: make([]int, buckets),
	}
}

func (bs *bucketSet[T]) add(b int, v T) {
	t := bs.tails[b]
	if len(t) == bs.tailCap {
		bs.pieces[b] = append(bs.pieces[b], piece{bs.sc.write(asBytes(t)), int32(len(t))})
		t = t[:0]
	} else if t == nil {
		t = make([]T, 0, bs.tailCap)
	}
	bs.tails[b] = append(t, v)
	bs.n[b]++
}

// take appends bucket b's values to dst in the order they were added and
// empties the bucket. It returns false after a scratch read error.
func (bs *bucketSet[T]) take(b int, dst []T) ([]T, bool) {
	dst = slicesGrow(dst, bs.n[b])
	for _, p := range bs.pieces[b] {
		k := len(dst)
		dst = dst[:k+int(p.n)]
		if !bs.sc.read(asBytes(dst[k:]), p.off) {
			return dst[:k], false
		}
		bs.sc.free(p.off)
	}
	dst = append(dst, bs.tails[b]...)
	bs.tails[b], bs.pieces[b], bs.n[b] = nil, nil, 0
	return dst, true
}

func slicesGrow[T any](s []T, n int) []T {
	if cap(s)-len(s) < n {
		ns := make([]T, len(s), len(s)+n)
		copy(ns, s)
		return ns
	}
	return s
}
