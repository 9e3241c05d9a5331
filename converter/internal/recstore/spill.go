package recstore

import (
	"io"
	"unsafe"
)

// Spill is the scratch storage (the converter's Options.Spill): the converter writes
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
func (a *Arena) spillChunk(c int) {
	for len(a.spilled) <= c {
		a.spilled = append(a.spilled, spilledChunk{})
	}
	b := a.chunks[c]
	var off int64
	if a.Scratch != nil {
		off = a.Scratch.Write(b)
	} else {
		off = a.spillEnd
		if a.err == nil {
			if _, err := a.Spill.WriteAt(b, off); err != nil {
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
func (a *Arena) load(c int) []byte {
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
	if a.Scratch != nil {
		if !a.Scratch.Read(e.buf, sc.off) {
			a.err = a.Scratch.err
			e.buf = nil
			return nil
		}
	} else if n, err := a.Spill.ReadAt(e.buf, sc.off); n < sc.n {
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
type Scratch struct {
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

// NewScratch returns scratch storage in spill, or in memory when spill is
// nil.
func NewScratch(spill Spill) *Scratch {
	return &Scratch{spill: spill, mem: map[int64][]byte{}}
}

// Write stores b (copied) and returns its offset.
func (s *Scratch) Write(b []byte) int64 {
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

func (s *Scratch) flush() {
	if len(s.pending) > 0 {
		s.writeAt(s.pending, s.flushed)
		s.pending = s.pending[:0]
	}
}

func (s *Scratch) writeAt(b []byte, off int64) {
	if s.err == nil {
		if _, err := s.spill.WriteAt(b, off); err != nil {
			s.err = err
		}
	}
	s.flushed = off + int64(len(b))
}

// Read fills b with the piece written at off; false after a spill error
// (s.err says which).
func (s *Scratch) Read(b []byte, off int64) bool {
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

// Free drops the piece at off when it is held in memory.
func (s *Scratch) Free(off int64) {
	if s.spill == nil {
		delete(s.mem, off)
	}
}

// Err is the first spill error, nil if none.
func (s *Scratch) Err() error { return s.err }

// Written is the number of bytes of pieces written (the converter's
// Stats.ScratchBytes), Flushed the number written to the Spill (its size).
func (s *Scratch) Written() int64 { return s.written }

// Flushed: see Written.
func (s *Scratch) Flushed() int64 { return s.flushed }

// SetGather sets how many bytes of small pieces are gathered into one
// Spill write (0: scratchPending; 1: none gathered); tests use it.
func (s *Scratch) SetGather(n int) { s.gather = n }

// AsBytes views a slice of pointer-free values as bytes.
func AsBytes[T any](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(z)))
}

// BucketSet is a set of append-only buckets of pointer-free values kept in
// scratch storage; a bucket reads back in the order it was written. Each
// bucket being written has a tail of tailCap values in memory, written to
// scratch as one piece when full. The tails together may hold budget
// values: beyond that, the tails not written to lately are written out as
// they are (short pieces) and their memory reused, so memory stays
// bounded whatever the number of buckets (thousands of traces) and
// values, while the buckets written to at a time (the current steps) still
// get full pieces.
type BucketSet[T any] struct {
	sc      *Scratch
	tailCap int
	budget  int // values the tails may hold together
	held    int // values the allocated tails can hold
	tails   [][]T
	pieces  [][]piece
	n       []int
	last    []uint64 // per bucket: clock of the last add
	clock   uint64
	free    [][]T // tails to reuse
}

type piece struct {
	off int64
	n   int32
}

// bucketBudget is the memory the tails of one bucketSet may take, and
// bucketTail the memory of one tail.
const (
	bucketBudget = 2 << 20
	bucketTail   = 16 << 10
)

// NewBucketSet makes buckets with tails of tailCap values sharing budget
// values; 0 means bucketTail and bucketBudget bytes. The budget holds at
// least 3 tails.
func NewBucketSet[T any](sc *Scratch, buckets, tailCap, budget int) *BucketSet[T] {
	var z T
	size := int(unsafe.Sizeof(z))
	if tailCap <= 0 {
		tailCap = bucketTail / size
	}
	if budget <= 0 {
		budget = bucketBudget / size
	}
	return &BucketSet[T]{
		sc: sc, tailCap: tailCap, budget: max(budget, 3*tailCap),
		tails: make([][]T, buckets), pieces: make([][]piece, buckets), n: make([]int, buckets),
		last: make([]uint64, buckets),
	}
}

// Add appends v to bucket b.
func (bs *BucketSet[T]) Add(b int, v T) {
	t := bs.tails[b]
	if len(t) == bs.tailCap {
		bs.spill(b)
		t = bs.tails[b]
	} else if t == nil {
		t = bs.newTail()
	}
	bs.tails[b] = append(t, v)
	bs.n[b]++
	bs.clock++
	bs.last[b] = bs.clock
}

// spill writes bucket b's tail to scratch as a piece and empties it.
func (bs *BucketSet[T]) spill(b int) {
	t := bs.tails[b]
	bs.pieces[b] = append(bs.pieces[b], piece{bs.sc.Write(AsBytes(t)), int32(len(t))})
	bs.tails[b] = t[:0]
}

// newTail returns an empty tail, first writing out the tails not added to
// during the last half budget of adds (or, if none, all of them) when the
// budget is spent.
func (bs *BucketSet[T]) newTail() []T {
	if bs.held+bs.tailCap > bs.budget {
		for pass := 0; pass < 2 && len(bs.free) == 0; pass++ {
			cut := bs.clock - min(bs.clock, uint64(bs.budget/2))
			for b, t := range bs.tails {
				if t != nil && (pass == 1 || bs.last[b] <= cut) {
					if len(t) > 0 {
						bs.spill(b)
					}
					bs.free = append(bs.free, bs.tails[b])
					bs.tails[b] = nil
				}
			}
		}
	}
	if k := len(bs.free); k > 0 {
		t := bs.free[k-1]
		bs.free = bs.free[:k-1]
		return t
	}
	bs.held += bs.tailCap
	return make([]T, 0, bs.tailCap)
}

// Take appends bucket b's values to dst in the order they were added and
// empties the bucket. It returns false after a scratch read error.
func (bs *BucketSet[T]) Take(b int, dst []T) ([]T, bool) {
	dst = slicesGrow(dst, bs.n[b])
	for _, p := range bs.pieces[b] {
		k := len(dst)
		dst = dst[:k+int(p.n)]
		if !bs.sc.Read(AsBytes(dst[k:]), p.off) {
			return dst[:k], false
		}
		bs.sc.Free(p.off)
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
