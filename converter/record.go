package converter

import (
	"unicode/utf8"
	"unsafe"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/recstore"
)

// Spill is the scratch storage Options.Spill names (see recstore.Spill):
// an io.ReaderAt and io.WriterAt such as an *os.File from os.CreateTemp;
// the converter never closes or removes it.
type Spill = recstore.Spill

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

// recordStore is the append-only store of records in file order
// (recstore.Chunks: one open chunk in memory, each full chunk in the
// scratch storage, Options.Spill or memory, read back once, in order, by
// Scan). While records are added it keeps aside the few that
// structure needs before that scan: user_annotations (step candidates and
// External ids), runtime/driver calls with a correlation id (to route GPU
// work, which often comes before its launch) and the first op (the
// resource's process.pid).
type recordStore struct {
	recstore.Chunks[record]

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
	i := int32(s.Len())
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
	s.Add(r)
	return i
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
