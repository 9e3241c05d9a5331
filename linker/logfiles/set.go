package logfiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/containerlog"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
)

// headBytes is how much of a file's content identifies it.
const headBytes = 1 << 10

// minIdentity is the shortest head that may name a known file: a shorter
// new file is looked at again until it grows or stops changing, so that a
// few bytes written after a copytruncate are not taken for the old file.
const minIdentity = 64

// forgetAfter is how long a file that vanished is remembered (so that its
// rotated, compressed copy is recognised).
const forgetAfter = time.Hour

// Stats is a snapshot of what a Set did.
type Stats struct {
	// Followed files are open now; Queued wait for a slot (MaxFollowed);
	// Known files are remembered by content.
	Followed, Queued, Known int
	// Lines, Records: lines read and request records added to the
	// timeline. Skipped counts files skipped whole or in part (one
	// warning each); Duplicates rotated or copied files recognised as
	// already read; Truncations files truncated in place (copytruncate).
	Lines, Records, Skipped, Duplicates, Truncations int64
}

// FileStats says what was read from one file.
type FileStats struct {
	Path string
	// Container is plain, cri or docker-json; Format text or json.
	Container, Format string
	Task              string
	Lines, Records    int64
	// NotRequest lines said nothing about requests; Malformed could not be
	// read; Warning is the one warning logged for the file, if any.
	NotRequest, Malformed int64
	Warning               string
}

// Set reads the files its patterns name into a timeline.
type Set struct {
	cfg  Config
	tl   *linker.Timeline
	log  *slog.Logger
	task *regexp.Regexp

	entries []*entry
	seen    map[string]*seenFile
	queue   []*entry
	open    int
	scans   int
	srcs    [linker.SourceOTLP + 1]bool
	buf     []byte

	mu    sync.Mutex
	stats Stats
}

type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(st.Dev), uint64(st.Ino)}
	}
	return fileID{}
}

type seenFile struct {
	id    fileID
	size  int64
	mtime time.Time
	e     *entry // nil while undecided (too short to identify)
	last  int    // scan that last listed it
}

// entry is one file identity: a stream of content, wherever it lives now.
type entry struct {
	stream string // the first path it was seen at: the timeline's stream
	path   string // where it is read from now
	id     fileID
	gz     bool
	head   []byte
	offset int64 // content bytes consumed
	file   *os.File
	queued bool
	grown  time.Time // last time it grew
	gone   time.Time // when its path vanished (zero while present)

	partial  []byte
	skipping bool
	dec      *decoder
}

// New returns a Set that adds what it reads to tl and logs one warning per
// bad file to logger.
func New(cfg Config, tl *linker.Timeline, logger *slog.Logger) (*Set, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	task, _ := CompileTaskPattern(cfg.TaskPattern)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Set{cfg: cfg, tl: tl, log: logger, task: task, seen: map[string]*seenFile{}, buf: make([]byte, 64<<10)}
	switch cfg.Format {
	case vllmlog.FormatText:
		s.srcs[linker.SourceTextLog] = true
	case vllmlog.FormatJSONLines:
		s.srcs[linker.SourceJSONLog] = true
	}
	return s, nil
}

// Stats returns a snapshot; safe to call while Run runs.
func (s *Set) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Set) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// Files returns what was read from each file, in the order they were
// found. Not safe while Run runs.
func (s *Set) Files() []FileStats {
	out := make([]FileStats, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e.dec.stats(e.stream))
	}
	return out
}

// ReadOnce reads every file the patterns name now to its end (what convert
// does) and returns; files that are the same content are read once.
func (s *Set) ReadOnce(ctx context.Context) error {
	s.cfg.FromEnd = false
	s.scan(true)
	for len(s.queue) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := s.queue[0]
		s.queue = s.queue[1:]
		e.queued = false
		if err := s.openEntry(e); err != nil {
			s.log.Warn("request log not read", "log", e.path, "err", err)
			continue
		}
		s.readOpen(e)
		s.closeEntry(e)
	}
	for _, e := range s.entries {
		s.finish(e)
	}
	s.syncStats()
	return nil
}

// Run follows the files until ctx ends. It returns nil then; it fails
// only when nothing can be followed at all (no fsnotify is not a failure).
func (s *Set) Run(ctx context.Context) error {
	fsw, err := fsnotify.NewWatcher()
	var events <-chan fsnotify.Event
	var errs <-chan error
	watched := map[string]bool{}
	if err != nil {
		s.log.Info("fsnotify unavailable; finding new request logs by rescanning only", "err", err)
	} else {
		defer fsw.Close()
		events, errs = fsw.Events, fsw.Errors
	}
	watch := func(dirs []string) {
		if fsw == nil {
			return
		}
		for _, d := range dirs {
			if !watched[d] {
				if err := fsw.Add(d); err == nil {
					watched[d] = true
				}
			}
		}
	}
	defer func() {
		for _, e := range s.entries {
			if e.file != nil {
				s.closeEntry(e)
			}
		}
	}()
	watch(s.scan(true))
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	rescan := time.NewTicker(s.cfg.RescanInterval)
	defer rescan.Stop()
	var soon <-chan time.Time
	for {
		s.pollOpen(time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-rescan.C:
			watch(s.scan(false))
		case <-soon:
			soon = nil
			watch(s.scan(false))
		case ev, ok := <-events:
			if !ok {
				events = nil
			} else if soon == nil && !s.followed(ev) {
				soon = time.After(100 * time.Millisecond)
			}
		case _, ok := <-errs:
			if !ok {
				errs = nil
			} else if soon == nil {
				soon = time.After(100 * time.Millisecond) // overflow: rescan
			}
		}
	}
}

// followed reports whether ev is only a write to a file that is open
// anyway (polled), which needs no rescan.
func (s *Set) followed(ev fsnotify.Event) bool {
	if !ev.Has(fsnotify.Write) || ev.Has(fsnotify.Create) || ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Remove) {
		return false
	}
	sf := s.seen[filepath.Clean(ev.Name)]
	return sf != nil && sf.e != nil && (sf.e.file != nil || sf.e.dec.binary)
}

// scan lists the patterns and decides, for every file that is new or
// changed, which known file it is (or that it is new).
func (s *Set) scan(first bool) []string {
	s.scans++
	files, dirs := expand(s.cfg.Patterns, s.cfg.Rotated)
	now := time.Now()
	// Open files first: a truncation in place must be seen before the
	// path is looked at as a new file.
	for _, e := range s.entries {
		if e.file != nil {
			s.checkTruncated(e)
		}
	}
	type pending struct {
		c  candidate
		fi fs.FileInfo
	}
	var todo []pending
	for _, c := range files {
		fi, err := os.Stat(c.path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		sf := s.seen[c.path]
		id := idOf(fi)
		if sf != nil && sf.e != nil && sf.id == id && sf.size == fi.Size() && sf.mtime.Equal(fi.ModTime()) {
			sf.last = s.scans
			continue // unchanged
		}
		todo = append(todo, pending{c, fi})
	}
	// Oldest first, so a rotated file is read before its successor.
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].fi.ModTime().Before(todo[j].fi.ModTime()) })
	for _, p := range todo {
		s.consider(p.c, p.fi, first, now)
	}
	for path, sf := range s.seen {
		if sf.last != s.scans {
			if sf.e != nil && sf.e.path == path && sf.e.gone.IsZero() {
				sf.e.gone = now
			}
			delete(s.seen, path)
		}
	}
	s.forget(now)
	s.syncStats()
	return dirs
}

// consider places one new or changed file.
func (s *Set) consider(c candidate, fi fs.FileInfo, first bool, now time.Time) {
	id := idOf(fi)
	sf := s.seen[c.path]
	if sf == nil {
		sf = &seenFile{}
		s.seen[c.path] = sf
	}
	sf.id, sf.size, sf.mtime, sf.last = id, fi.Size(), fi.ModTime(), s.scans
	gz := strings.HasSuffix(c.path, ".gz")
	// Same inode as a file followed or read before: renamed, or grown.
	if !gz {
		for _, e := range s.entries {
			if e.id == id && id != (fileID{}) && !e.gz {
				if h, err := readHead(c.path, false); err == nil && prefixMatch(e.head, h) {
					e.path, e.gone, sf.e = c.path, time.Time{}, e
					if fi.Size() > e.offset {
						s.enqueue(e)
					}
					return
				}
			}
		}
	}
	head, err := readHead(c.path, gz)
	if err != nil || len(head) == 0 {
		sf.e = nil // look again next scan
		return
	}
	if best := s.match(head); best != nil {
		if len(head) < minIdentity && len(best.head) > len(head) && now.Sub(fi.ModTime()) < s.cfg.IdleClose && !first {
			sf.e = nil // too short to tell yet
			return
		}
		sf.e = best
		if best.path != c.path {
			s.count(func(st *Stats) { st.Duplicates++ })
		}
		s.readCopy(best, c.path, gz, fi.Size())
		return
	}
	e := &entry{stream: c.path, path: c.path, id: id, gz: gz, head: head, grown: now}
	e.dec = s.newDecoder(c, e)
	s.entries = append(s.entries, e)
	sf.e = e
	if first && s.cfg.FromEnd {
		if gz {
			e.offset = -1 // never read
			return
		}
		e.offset = fi.Size()
		return
	}
	if gz {
		s.readCopy(e, c.path, true, fi.Size())
		return
	}
	s.enqueue(e)
}

// match returns the known file whose head and head are prefixes of one
// another (the longest agreement wins).
func (s *Set) match(head []byte) *entry {
	var best *entry
	bestN := 0
	for _, e := range s.entries {
		if prefixMatch(e.head, head) {
			if n := min(len(e.head), len(head)); n > bestN {
				best, bestN = e, n
			}
		}
	}
	return best
}

func prefixMatch(a, b []byte) bool {
	n := min(len(a), len(b))
	return n > 0 && bytes.Equal(a[:n], b[:n])
}

// readHead returns the first headBytes of a file's content.
func readHead(path string, gz bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if gz {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	b := make([]byte, headBytes)
	n, err := io.ReadFull(r, b)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return b[:n], nil
}

// readCopy reads what another copy of e's content (a rotated, copied or
// compressed file) holds beyond e's offset, then closes it.
func (s *Set) readCopy(e *entry, path string, gz bool, size int64) {
	if e.offset < 0 {
		return
	}
	if !gz && size <= e.offset {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var r io.Reader = f
	if gz {
		zr, err := gzip.NewReader(f)
		if err != nil {
			e.dec.warn("not a readable gzip file: " + err.Error())
			return
		}
		if _, err := io.CopyN(io.Discard, zr, e.offset); err != nil {
			return // nothing beyond what was read (or cut short)
		}
		r = zr
	} else if _, err := f.Seek(e.offset, io.SeekStart); err != nil {
		return
	}
	err = s.readFrom(e, r)
	switch {
	case !gz:
	case err == io.EOF:
		s.flushPartial(e) // the whole stream, checksum verified: its last line is complete
	case errors.Is(err, io.ErrUnexpectedEOF):
		// Still being compressed: read on from here when it changes.
	case err != nil:
		e.dec.warn("not a readable gzip file: " + err.Error())
	}
}

func (s *Set) enqueue(e *entry) {
	if e.queued || e.file != nil || e.gz || e.dec.binary {
		return
	}
	e.queued = true
	s.queue = append(s.queue, e)
}

func (s *Set) openEntry(e *entry) error {
	f, err := os.Open(e.path)
	if err != nil {
		return fmt.Errorf("logfiles: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("logfiles: %s: %w", e.path, err)
	}
	e.file, e.id, e.grown = f, idOf(fi), time.Now()
	s.open++
	return nil
}

func (s *Set) closeEntry(e *entry) {
	if e.file == nil {
		return
	}
	e.file.Close()
	e.file = nil
	s.open--
	// An idle file keeps no line buffers.
	if len(e.partial) == 0 && !e.skipping {
		e.partial = nil
	}
	if e.dec.join.Idle() {
		e.dec.join = containerlog.Joiner{MaxBytes: s.cfg.MaxLineBytes}
	}
}

// pollOpen reads every open file, closes idle ones (at once, when files
// wait for a slot) and opens queued ones while there is room.
func (s *Set) pollOpen(now time.Time) {
	for _, e := range s.entries {
		if e.file == nil {
			continue
		}
		grew := s.readOpen(e)
		if grew {
			e.grown = now
		}
		// A file read to its end gives its slot to a waiting one; it is
		// opened again when a rescan or fsnotify sees it grow.
		if e.dec.binary || now.Sub(e.grown) >= s.cfg.IdleClose || (!grew && len(s.queue) > 0) {
			s.closeEntry(e)
		}
		e.dec.idle()
	}
	for len(s.queue) > 0 && s.open < s.cfg.MaxFollowed {
		e := s.queue[0]
		s.queue = s.queue[1:]
		e.queued = false
		if err := s.openEntry(e); err != nil {
			continue // vanished: a rescan finds where it went
		}
		s.readOpen(e)
		e.dec.idle()
	}
	if len(s.queue) == 0 {
		for src := linker.SourceTextLog; src <= linker.SourceJSONLog; src++ {
			if s.srcs[src] {
				s.tl.Advance(src, now.UnixNano())
			}
		}
	}
	s.syncStats()
}

// readOpen reads an open file to its current end; it reports whether
// anything was read.
func (s *Set) readOpen(e *entry) bool {
	before := e.offset
	if fi, err := e.file.Stat(); err == nil && fi.Size() < e.offset {
		// Truncated since the last read: reading on at the old offset
		// would deliver the new content's middle.
		s.checkTruncated(e)
		return false
	}
	if _, err := e.file.Seek(e.offset, io.SeekStart); err != nil {
		return false
	}
	if err := s.readFrom(e, e.file); err != nil && !errors.Is(err, io.EOF) {
		s.log.Debug("request log read", "log", e.path, "err", err)
	}
	if len(e.head) < headBytes && e.offset > int64(len(e.head)) {
		if h, err := readHead(e.path, false); err == nil && prefixMatch(e.head, h) && len(h) > len(e.head) {
			e.head = h
		}
	}
	return e.offset > before
}

// checkTruncated detaches an open file whose content was cut or replaced
// in place (copytruncate): its path then counts as a new file, and the
// identity keeps its offset, so that the rotated copy is read on from
// there (what the live file held beyond it is gone from the live file).
func (s *Set) checkTruncated(e *entry) {
	fi, err := e.file.Stat()
	if err != nil {
		return
	}
	cut := fi.Size() < e.offset
	if !cut {
		h := make([]byte, len(e.head))
		n, _ := e.file.ReadAt(h, 0)
		cut = n < len(e.head) || !bytes.Equal(h, e.head)
	}
	if !cut {
		return
	}
	s.closeEntry(e)
	e.id = fileID{}
	s.count(func(st *Stats) { st.Truncations++ })
	delete(s.seen, e.path)
}

// readFrom feeds r's content to e's lines until EOF (or until the file
// turns out to be binary).
func (s *Set) readFrom(e *entry, r io.Reader) error {
	for !e.dec.binary {
		n, err := r.Read(s.buf)
		if n > 0 {
			s.feed(e, s.buf[:n])
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.EOF
		}
	}
	return nil
}

func (s *Set) feed(e *entry, b []byte) {
	max := s.cfg.MaxLineBytes
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if !e.skipping {
			if len(e.partial)+len(chunk) > max {
				e.skipping = true
				e.partial = e.partial[:0]
			} else {
				e.partial = append(e.partial, chunk...)
			}
		}
		if i < 0 {
			e.offset += int64(len(b))
			return
		}
		e.offset += int64(i + 1)
		b = b[i+1:]
		s.deliver(e)
	}
}

func (s *Set) deliver(e *entry) {
	line := bytes.TrimSuffix(e.partial, []byte("\r"))
	e.dec.line(line, e.skipping)
	e.partial, e.skipping = e.partial[:0], false
}

// flushPartial delivers a last line that has no newline.
func (s *Set) flushPartial(e *entry) {
	if len(e.partial) > 0 || e.skipping {
		s.deliver(e)
	}
}

// finish ends a file read by ReadOnce: its last line, partial lines the
// runtime never completed, and the warning for a file with no vLLM line.
func (s *Set) finish(e *entry) {
	s.flushPartial(e)
	e.dec.flush()
	e.dec.idle()
}

// forget drops files that vanished long ago.
func (s *Set) forget(now time.Time) {
	kept := s.entries[:0]
	for _, e := range s.entries {
		if !e.gone.IsZero() && e.file == nil && !e.queued && now.Sub(e.gone) > forgetAfter {
			continue
		}
		kept = append(kept, e)
	}
	clear(s.entries[len(kept):])
	s.entries = kept
}

func (s *Set) syncStats() {
	s.mu.Lock()
	s.stats.Followed, s.stats.Queued, s.stats.Known = s.open, len(s.queue), len(s.entries)
	s.mu.Unlock()
}
