package converter

import (
	"unicode/utf8"
	"unsafe"
)

// kind classifies a record by what it becomes.
type kind uint8

const (
	kindCPUOther  kind = iota // unknown X category on a CPU thread: generic span
	kindUserAnnot             // user_annotation
	kindCPUOp                 // cpu_op
	kindLaunch                // cuda_runtime, cuda_driver, *_runtime, *_driver
	kindPython                // python_function
	kindKernel                // kernel
	kindMemcpy                // gpu_memcpy
	kindMemset                // gpu_memset
	kindGPUAnnot              // gpu_user_annotation
	kindGPUOther              // cuda_sync, cuda_event, unknown GPU-side X with a correlation
	kindInstant               // memory instants, unknown instants, unknown phases
)

func (k kind) gpu() bool { return k >= kindKernel && k <= kindGPUOther }

// record flags.
const (
	flagCorr   uint8 = 1 << iota // link is a correlation id
	flagExt                      // link is an External id
	flagDevice                   // args carry "device"
	flagStream                   // args carry "stream"
	flagMemory                   // [memory] / [OutOfMemory] instant
	flagStep                     // a step annotation
)

// record is the compact form of one kept trace event (kept in scratch
// storage, see recordStore).
type record struct {
	ts, dur int64 // ns as written in the file (before the time base)
	// link is the CUDA correlation id (flagCorr) for launches and GPU
	// work, or the External id (flagExt) for user_annotation and
	// gpu_user_annotation, the only kinds matched by it.
	link     int64
	args     uint64 // arena reference (chunk<<32 | offset)
	argLen   uint32 // encoded args length
	name     uint32 // interned name
	cat      uint32 // interned category
	pid, tid uint32 // interned pid/tid text
	ordinal  uint32 // index in traceEvents
	ph       byte
	kind     kind
	flags    uint8
}

// recordSize is the in-memory size of one record, reported in Stats.
const recordSize = int(unsafe.Sizeof(record{}))

func (r *record) end() int64 { return r.ts + r.dur }

const (
	chunkShift = 13
	chunkLen   = 1 << chunkShift
)

// recordStore is the append-only store of records in file order. It holds
// one open chunk of chunkLen records in memory; each full chunk goes to
// the scratch storage (Options.Spill, else memory) and is read back once,
// in order, by scan. While records are added it keeps aside the few that
// structure needs before that scan: user_annotations (step candidates and
// External ids), runtime/driver calls with a correlation id (to route GPU
// work, which often comes before its launch) and the first op (the
// resource's process.pid).
type recordStore struct {
	sc     *scratch
	chunk  int // records per chunk; 0 = chunkLen
	open   []record
	sealed []int64 // scratch offset of each full chunk
	n      int

	annots   []heldRecord
	launches [][]launchRef // in chunks of launchChunk: no copy as it grows
	nLaunch  int
	first    heldRecord // first user_annotation or cpu_op; idx -1 = none
	hasFirst bool
}

// heldRecord is a record kept aside with its index in the store.
type heldRecord struct {
	rec record
	idx int32
}

const launchChunk = 4096

// launchRef is a runtime/driver call with a CUDA correlation id.
type launchRef struct {
	corr, ts, end int64
	idx           int32
}

func (s *recordStore) add(r record) int32 {
	if s.chunk <= 0 {
		s.chunk = chunkLen
	}
	if len(s.open) == s.chunk {
		s.seal()
	}
	if s.open == nil {
		s.open = make([]record, 0, s.chunk)
	}
	i := int32(s.n)
	switch r.kind {
	case kindUserAnnot:
		s.annots = append(s.annots, heldRecord{r, i})
	case kindLaunch:
		if r.flags&flagCorr != 0 {
			if s.nLaunch%launchChunk == 0 {
				s.launches = append(s.launches, make([]launchRef, 0, launchChunk))
			}
			c := &s.launches[len(s.launches)-1]
			*c = append(*c, launchRef{r.link, r.ts, r.end(), i})
			s.nLaunch++
		}
	}
	if !s.hasFirst && (r.kind == kindUserAnnot || r.kind == kindCPUOp) {
		s.first, s.hasFirst = heldRecord{r, i}, true
	}
	s.open = append(s.open, r)
	s.n++
	return i
}

// seal writes the full open chunk to scratch.
func (s *recordStore) seal() {
	if s.sc == nil {
		s.sc = newScratch(nil)
	}
	s.sealed = append(s.sealed, s.sc.write(asBytes(s.open)))
	s.open = s.open[:0]
}

func (s *recordStore) len() int { return s.n }

// scan calls fn for every record in file order. With drop, the records
// are dropped from memory scratch as they are read (the store is then
// empty). It returns false after a scratch read error.
func (s *recordStore) scan(drop bool, fn func(i int32, r *record)) bool {
	i := int32(0)
	if len(s.sealed) > 0 {
		buf := make([]record, s.chunk)
		for _, off := range s.sealed {
			if !s.sc.read(asBytes(buf), off) {
				return false
			}
			if drop {
				s.sc.free(off)
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

// arena stores encoded args in chunks of at least arenaChunk bytes. With a
// spill set, every chunk but the one being filled lives in the spill file
// and is read back through a small cache (see spill.go).
type arena struct {
	chunks [][]byte
	size   int64

	spill    Spill
	sc       *scratch       // when set, spilled chunks go through it (shared with the records)
	spilled  []spilledChunk // per chunk, when spill is set
	spillEnd int64          // bytes written to the spill
	cache    [spillCache]cachedChunk
	tick     uint64
	err      error // first spill error; get returns nil after it
}

const arenaChunk = 1 << 20

func (a *arena) add(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	last := len(a.chunks) - 1
	if last < 0 || cap(a.chunks[last])-len(a.chunks[last]) < len(b) {
		if last >= 0 && a.spill != nil {
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

func (a *arena) get(ref uint64, n uint32) []byte {
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

// interner maps byte strings to dense ids. Invalid UTF-8 is replaced with
// U+FFFD when a string is first stored, so every string it returns is valid
// for OTLP.
type interner struct {
	ids  map[string]uint32
	strs []string
	// recent is a small direct-mapped cache in front of ids: most names,
	// categories, pids/tids and arg keys repeat from event to event.
	recent [internCache]internEntry
}

const internCache = 1024

type internEntry struct {
	s  string
	id uint32
}

// slot picks a cache slot from the length and a few bytes of b.
func slot(b []byte) int {
	n := len(b)
	if n == 0 {
		return 0
	}
	h := uint(n)*31 ^ uint(b[0])<<2 ^ uint(b[n-1])<<5 ^ uint(b[n/2])<<8
	return int(h % internCache)
}

func newInterner() *interner {
	in := &interner{ids: map[string]uint32{"": 0}, strs: []string{""}} // id 0 is ""
	return in
}

func (in *interner) id(b []byte) uint32 {
	e := &in.recent[slot(b)]
	if e.s == string(b) && (e.id != 0 || len(b) == 0) {
		return e.id
	}
	if id, ok := in.ids[string(b)]; ok {
		e.s, e.id = in.strs[id], id
		if e.s != string(b) { // sanitised string: cache under the raw key is impossible
			e.s, e.id = "", 0
		}
		return id
	}
	s := string(b)
	v := s
	if !utf8.ValidString(v) {
		v = toValidUTF8(v)
	}
	id := uint32(len(in.strs))
	in.strs = append(in.strs, v)
	in.ids[s] = id
	return id
}

func (in *interner) idString(s string) uint32 { return in.id([]byte(s)) }

func (in *interner) str(id uint32) string { return in.strs[id] }

func toValidUTF8(s string) string {
	out := make([]byte, 0, len(s)+8)
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, s[:size]...)
		}
		s = s[size:]
	}
	return string(out)
}
