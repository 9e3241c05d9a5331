package recstore

// Chunks is an append-only store of pointer-free values (the converter's
// records) in insertion order. It holds one open chunk of PerChunk values
// in memory; each full chunk goes to Scratch as one piece and is read back
// once, in order, by Scan.
type Chunks[T any] struct {
	Scratch  *Scratch // where full chunks go; nil: memory, made on the first full chunk
	PerChunk int      // values per chunk; 0 = DefaultChunk

	open   []T
	sealed []int64 // scratch offset of each full chunk
	n      int
}

// DefaultChunk is the number of values per chunk when PerChunk is 0.
const DefaultChunk = 1 << 13

// Add appends v; its index is the Len before the call.
func (s *Chunks[T]) Add(v T) {
	if s.PerChunk <= 0 {
		s.PerChunk = DefaultChunk
	}
	if len(s.open) == s.PerChunk {
		s.seal()
	}
	if s.open == nil {
		s.open = make([]T, 0, s.PerChunk)
	}
	s.open = append(s.open, v)
	s.n++
}

// seal writes the full open chunk to scratch.
func (s *Chunks[T]) seal() {
	if s.Scratch == nil {
		s.Scratch = NewScratch(nil)
	}
	s.sealed = append(s.sealed, s.Scratch.Write(AsBytes(s.open)))
	s.open = s.open[:0]
}

// Len is the number of values added.
func (s *Chunks[T]) Len() int { return s.n }

// Scan calls fn for every value in insertion order. With drop, the values
// are dropped from memory scratch as they are read (the store is then
// empty). It returns false after a scratch read error (Scratch.Err says
// which).
func (s *Chunks[T]) Scan(drop bool, fn func(i int32, v *T)) bool {
	i := int32(0)
	if len(s.sealed) > 0 {
		buf := make([]T, s.PerChunk)
		for _, off := range s.sealed {
			if !s.Scratch.Read(AsBytes(buf), off) {
				return false
			}
			if drop {
				s.Scratch.Free(off)
			}
			for k := range buf {
				fn(i, &buf[k])
				i++
			}
		}
	}
	for k := range s.open {
		fn(i, &s.open[k])
		i++
	}
	if drop {
		s.sealed, s.open = nil, nil
	}
	return true
}

// Arena stores encoded args in chunks of at least arenaChunk bytes. With a
// spill set, every chunk but the one being filled lives in the spill file
// and is read back through a small cache (see spill.go).
type Arena struct {
	// Spill, when set, takes every full chunk; Scratch, when set too,
	// takes them instead of writing to Spill directly (shared with the
	// records, so that writes are gathered).
	Spill   Spill
	Scratch *Scratch

	chunks [][]byte
	size   int64

	spilled  []spilledChunk // per chunk, when spill is set
	spillEnd int64          // bytes written to the spill
	cache    [spillCache]cachedChunk
	tick     uint64
	err      error // first spill error; get returns nil after it
}

const arenaChunk = 1 << 20

// Add stores b and returns its reference (chunk<<32 | offset); an empty b
// is reference 0.
func (a *Arena) Add(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	last := len(a.chunks) - 1
	if last < 0 || cap(a.chunks[last])-len(a.chunks[last]) < len(b) {
		if last >= 0 && a.Spill != nil {
			a.spillChunk(last)
		}
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(b))))
		last++
	}
	off := len(a.chunks[last])
	a.chunks[last] = append(a.chunks[last], b...)
	a.size += int64(len(b))
	return uint64(last)<<32 | uint64(off)
}

// Get returns the n bytes Add stored under ref, valid until the next Get;
// nil after a spill error (Err).
func (a *Arena) Get(ref uint64, n uint32) []byte {
	if n == 0 {
		return nil
	}
	c := a.chunks[ref>>32]
	if c == nil { // spilled
		if c = a.load(int(ref >> 32)); c == nil {
			return nil
		}
	}
	off := uint32(ref)
	return c[off : off+n]
}

// Size is the number of bytes added.
func (a *Arena) Size() int64 { return a.size }

// Err is the first spill write or read error, nil if none.
func (a *Arena) Err() error { return a.err }
