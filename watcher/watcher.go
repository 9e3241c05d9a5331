package watcher

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/tracefile"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher/checkpoint"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher/finder"
)

// File is a complete trace file handed out by Next. Pass it back unchanged
// to exactly one of Done, Retry or Failed.
type File struct {
	Path        string    // absolute path
	Size        int64     // bytes on disk when offered
	ModTime     time.Time // mtime when offered
	Fingerprint string    // content identity, see package doc; stable across renames
	Name        tracefile.Info
	Attempt     int // 1 on the first offer, +1 per Retry
}

// Stats is a snapshot of the watcher's counters and gauges.
type Stats struct {
	Seen            int64         // distinct trace files discovered since start
	Exported        int64         // files Done since start
	Failed          int64         // files failed since start (by Failed or by the watcher)
	Retried         int64         // Retry calls and transient read/verify failures
	Queue           int           // files waiting: settling, ready or backing off
	Ready           int           // files complete and waiting for Next
	InFlight        int           // files handed out and not yet settled
	OldestWaiting   time.Duration // now minus the mtime of the oldest waiting file
	BytesOnDisk     int64         // trace files in the watched dirs and their exported/failed dirs
	DeletedByBudget int64         // exported files deleted to keep DiskBudgetBytes
	BudgetOverrun   int64         // bytes over budget that could not be freed (not exported yet)
	Problems        int           // trace files currently unusable (unreadable, symlink outside, ...)
}

type phase uint8

const (
	phaseSettling phase = iota // waiting for size and mtime to stay put
	phaseReady                 // complete, in the ready heap
	phaseInFlight              // handed out by Next
	phaseBackoff               // waiting until retryAt
	phaseExported              // recorded as exported, still on disk
	phaseFailed                // recorded as failed, still on disk
)

type entry struct {
	path  string
	root  int
	info  tracefile.Info
	size  int64
	mtime time.Time

	phase       phase
	stableSince time.Time // first time the current size and mtime were seen
	retryAt     time.Time
	fp          string // fingerprint of the current size/mtime; "" not yet known
	attempts    int    // offers so far
	failures    int    // consecutive transient failures (for backoff)
	truncations int    // times read as truncated since the last change
	gen         uint64 // last scan that saw it
	index       int    // in the ready heap
}

func (e *entry) key() stateKey { return stateKey{e.fp, e.size} }

// order is the backlog order: name timestamp, then mtime, then path.
func (e *entry) less(o *entry) bool {
	et, ot := e.info.ExportTime, o.info.ExportTime
	if et.IsZero() {
		et = e.mtime
	}
	if ot.IsZero() {
		ot = o.mtime
	}
	if !et.Equal(ot) {
		return et.Before(ot)
	}
	if !e.mtime.Equal(o.mtime) {
		return e.mtime.Before(o.mtime)
	}
	return e.path < o.path
}

type readyHeap []*entry

func (h readyHeap) Len() int           { return len(h) }
func (h readyHeap) Less(i, j int) bool { return h[i].less(h[j]) }
func (h readyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *readyHeap) Push(x any)        { e := x.(*entry); e.index = len(*h); *h = append(*h, e) }
func (h *readyHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

// Watcher finds complete trace files and tracks them to export. Create it
// with New, run Run in a goroutine, and take files with Next.
type Watcher struct {
	cfg   Config
	log   *slog.Logger
	find  finder.Finder
	state *store
	open  opener
	now   func() time.Time

	mu       sync.Mutex
	files    map[string]*entry
	ready    readyHeap
	active   map[stateKey]string // keys ready or in flight -> path, to hold duplicates back
	problems map[string]string   // path -> reason, logged once
	changed  chan struct{}       // closed and replaced when a file becomes ready
	stopped  bool
	running  bool
	stats    Stats
	nextDue  time.Time // earliest settle or retry deadline
	overrun  map[int]int64

	kick chan struct{} // asks Run for a budget pass (after Done)
}

// New checks cfg, loads the state file and returns a Watcher. A nil logger
// discards logs.
func New(cfg Config, logger *slog.Logger) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		cfg:      cfg,
		find:     finder.Finder{Recursive: cfg.Recursive, FollowSymlinks: cfg.FollowSymlinks},
		log:      logger,
		open:     os.Open,
		now:      time.Now,
		files:    make(map[string]*entry),
		active:   make(map[stateKey]string),
		problems: make(map[string]string),
		changed:  make(chan struct{}),
		overrun:  make(map[int]int64),
		kick:     make(chan struct{}, 1),
	}
	for _, d := range cfg.Dirs {
		r, err := finder.NewRoot(d, cfg.ExportedDir, cfg.FailedDir)
		if err != nil {
			return nil, fmt.Errorf("watcher: %w", err)
		}
		w.find.Roots = append(w.find.Roots, r)
	}
	statePath := cfg.StatePath
	if statePath == "" {
		statePath = filepath.Join(w.find.Roots[0].Dir, ".vllm-otel-bridge-state.json")
	}
	st, err := loadStore(statePath)
	if err != nil {
		return nil, fmt.Errorf("watcher: %w", err)
	}
	w.state = st
	return w, nil
}

// StatePath returns the state file in use.
func (w *Watcher) StatePath() string { return w.state.path }

// Run watches until ctx is done, then returns nil. It returns an error only
// if it was already running. Directories that do not exist yet are
// watched as soon as a rescan finds them.
func (w *Watcher) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return ErrAlreadyRunning
	}
	w.running = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.stopped = true
		w.broadcastLocked()
		if err := w.state.saveIfDirty(w.now()); err != nil {
			w.log.Warn("watcher: saving state on stop failed", "path", w.state.path, "err", err)
		}
		w.mu.Unlock()
	}()

	var events <-chan fsnotify.Event
	var errs <-chan error
	watched := make(map[string]bool)
	var fsw *fsnotify.Watcher
	if w.cfg.Notify {
		var err error
		if fsw, err = fsnotify.NewWatcher(); err != nil {
			w.log.Warn("watcher: fsnotify unavailable, relying on rescans", "err", err)
		} else {
			defer fsw.Close()
			events, errs = fsw.Events, fsw.Errors
		}
	}
	addWatch := func(dir string) {
		if fsw == nil || watched[dir] {
			return
		}
		if err := fsw.Add(dir); err != nil {
			w.log.Debug("watcher: fsnotify add failed", "dir", dir, "err", err)
			return
		}
		watched[dir] = true
	}

	timer := time.NewTimer(0)
	defer timer.Stop()
	var nextRescan time.Time // zero: scan at once
	for {
		if !w.now().Before(nextRescan) {
			w.rescan(ctx, addWatch)
			nextRescan = w.now().Add(w.cfg.RescanInterval)
		}
		w.processDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		// Sleep until the next rescan, settle deadline or retry, or until
		// fsnotify, Done or ctx says something. Go 1.23+ timers need no
		// draining before Reset.
		wake := func() time.Time {
			w.mu.Lock()
			defer w.mu.Unlock()
			if !w.nextDue.IsZero() && w.nextDue.Before(nextRescan) {
				return w.nextDue
			}
			return nextRescan
		}
		timer.Reset(max(time.Until(wake()), time.Millisecond))
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
				break wait
			case <-w.kick:
				w.budget(w.scanSnapshot())
			case ev, ok := <-events:
				if !ok {
					events = nil
					continue
				}
				if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
					delete(watched, ev.Name) // a removed directory loses its watch
				}
				if w.onEvent(ev, addWatch) {
					nextRescan = time.Time{}
				}
				// An event may bring a deadline forward (a new file).
				timer.Reset(max(time.Until(wake()), time.Millisecond))
			case err, ok := <-errs:
				if !ok {
					errs = nil
					continue
				}
				w.log.Warn("watcher: fsnotify error, rescanning", "err", err)
				nextRescan = time.Time{}
				break wait
			}
		}
	}
}

// onEvent handles one fsnotify event; it reports whether a rescan is
// needed (a new directory).
func (w *Watcher) onEvent(ev fsnotify.Event, addWatch func(string)) bool {
	ri := w.find.RootOf(ev.Name)
	if ri < 0 {
		return false
	}
	fi, err := os.Lstat(ev.Name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			w.mu.Lock()
			if e := w.files[ev.Name]; e != nil {
				w.dropLocked(e)
			}
			w.mu.Unlock()
		}
		return false
	}
	if fi.IsDir() {
		if w.cfg.Recursive && !w.find.Roots[ri].SkipDir(ev.Name) && ev.Has(fsnotify.Create) {
			addWatch(ev.Name)
			return true
		}
		return false
	}
	f, ok, err := w.find.Candidate(ri, ev.Name, fi)
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err != nil:
		w.problemLocked(ev.Name, err)
	case ok:
		w.observeLocked(f, 0)
	}
	return false
}

// rescan lists every root and reconciles the tracked set with it.
func (w *Watcher) rescan(ctx context.Context, addWatch func(string)) {
	w.mu.Lock()
	w.state.gen++
	gen := w.state.gen
	w.mu.Unlock()
	seenProblems := make(map[string]bool)
	complete := true
	for ri := range w.find.Roots {
		if ctx.Err() != nil {
			return
		}
		err := w.find.Scan(ri, func(f finder.Found) {
			w.mu.Lock()
			w.observeLocked(f, gen)
			w.mu.Unlock()
		}, func(p string, err error) {
			seenProblems[p] = true
			w.mu.Lock()
			w.problemLocked(p, err)
			w.mu.Unlock()
		}, addWatch)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				w.log.Debug("watcher: directory does not exist yet", "dir", w.find.Roots[ri].Dir)
			} else {
				w.log.Warn("watcher: cannot list directory", "dir", w.find.Roots[ri].Dir, "err", err)
			}
			complete = false
			continue // keep what we track under it: no evidence it is gone
		}
		w.mu.Lock()
		for _, e := range w.files {
			if e.root == ri && e.gen != gen && e.phase != phaseInFlight {
				w.dropLocked(e)
			}
		}
		w.mu.Unlock()
	}
	w.mu.Lock()
	for p := range w.problems {
		if !seenProblems[p] && w.files[p] == nil {
			delete(w.problems, p) // gone, or no longer a problem for the scan
		}
	}
	if complete {
		w.state.prune(w.now().Add(-w.cfg.StateRetention))
	}
	if err := w.state.saveIfDirty(w.now()); err != nil {
		w.log.Warn("watcher: saving state failed", "path", w.state.path, "err", err)
	}
	w.mu.Unlock()
	w.budget(w.scanSnapshot())
}

func (w *Watcher) problemLocked(path string, err error) {
	reason := err.Error()
	if w.problems[path] != reason {
		w.problems[path] = reason
		w.log.Warn("watcher: skipping file", "path", path, "reason", reason)
	}
}

// observeLocked records what a scan or event saw of a file.
func (w *Watcher) observeLocked(f finder.Found, gen uint64) {
	now := w.now()
	e := w.files[f.Path]
	if e == nil {
		e = &entry{path: f.Path, root: f.Root, info: f.Info, index: -1}
		w.files[f.Path] = e
		w.stats.Seen++
		w.resetLocked(e, f, now)
		if rec, ok := w.state.byPath(f.Path, f.Size, f.ModTime); ok {
			// Same path, size and mtime as a record: trust it without reading.
			e.fp = rec.Fingerprint
			e.phase = phaseExported
			if rec.Status == checkpoint.StatusFailed {
				e.phase = phaseFailed
			}
			w.state.touch(e.key(), now)
		}
	} else if e.size != f.Size || !e.mtime.Equal(f.ModTime) {
		if e.phase != phaseInFlight { // Done/Retry/Failed look again
			w.resetLocked(e, f, now)
		}
	}
	if gen != 0 {
		e.gen = gen
		if e.phase == phaseExported || e.phase == phaseFailed {
			w.state.touch(e.key(), now)
		}
	}
	delete(w.problems, f.Path)
}

// resetLocked starts settling e anew with what was just observed.
func (w *Watcher) resetLocked(e *entry, f finder.Found, now time.Time) {
	w.unreadyLocked(e)
	e.size, e.mtime = f.Size, f.ModTime
	e.phase = phaseSettling
	e.fp = ""
	e.truncations, e.failures = 0, 0
	e.stableSince = now
	if f.ModTime.Before(now) && now.Sub(f.ModTime) >= w.cfg.SettleTime {
		e.stableSince = f.ModTime // unchanged since before we looked
	}
	w.dueLocked(e.stableSince.Add(w.cfg.SettleTime))
}

func (w *Watcher) dueLocked(t time.Time) {
	if w.nextDue.IsZero() || t.Before(w.nextDue) {
		w.nextDue = t
	}
}

// unreadyLocked takes e out of the ready heap and the active set.
func (w *Watcher) unreadyLocked(e *entry) {
	if e.phase == phaseReady && e.index >= 0 {
		heap.Remove(&w.ready, e.index)
	}
	if e.fp != "" && w.active[e.key()] == e.path {
		delete(w.active, e.key())
	}
}

func (w *Watcher) dropLocked(e *entry) {
	if e.phase == phaseInFlight {
		return
	}
	w.unreadyLocked(e)
	delete(w.files, e.path)
	delete(w.problems, e.path)
}

func (w *Watcher) broadcastLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// work is a snapshot of a due entry, checked without the lock.
type work struct {
	e     *entry
	path  string
	size  int64
	mtime time.Time
	gz    bool
	fp    string
}

// processDue checks every file whose settle time or backoff has passed,
// oldest first, and moves it on: ready, exported/failed (known), failed
// (corrupt, too large, truncated for too long) or back off.
func (w *Watcher) processDue(ctx context.Context) {
	now := w.now()
	var due []*entry
	w.mu.Lock()
	w.nextDue = time.Time{}
	for _, e := range w.files {
		switch e.phase {
		case phaseSettling:
			if t := e.stableSince.Add(w.cfg.SettleTime); !t.After(now) {
				due = append(due, e)
			} else {
				w.dueLocked(t)
			}
		case phaseBackoff:
			if !e.retryAt.After(now) {
				due = append(due, e)
			} else {
				w.dueLocked(e.retryAt)
			}
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].less(due[j]) })
	jobs := make([]work, len(due))
	for i, e := range due {
		jobs[i] = work{e: e, path: e.path, size: e.size, mtime: e.mtime, gz: e.info.Gzip, fp: e.fp}
	}
	w.mu.Unlock()

	for _, j := range jobs {
		if ctx.Err() != nil {
			return
		}
		w.check(j)
	}
}

// check runs the I/O for one due file, then applies the outcome.
func (w *Watcher) check(j work) {
	fi, err := os.Stat(j.path)
	if err != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		if errors.Is(err, fs.ErrNotExist) {
			w.dropLocked(j.e)
			return
		}
		w.problemLocked(j.path, &FileError{Op: "stat", Path: j.path, Err: err})
		w.backoffLocked(j.e)
		return
	}
	if fi.Size() != j.size || !fi.ModTime().Equal(j.mtime) {
		w.mu.Lock()
		w.resetLocked(j.e, finder.Found{Path: j.path, Size: fi.Size(), ModTime: fi.ModTime()}, w.now())
		w.mu.Unlock()
		return
	}
	fp := j.fp
	if fp == "" {
		fp, err = fingerprint(w.open, j.path, j.gz, j.size)
	}
	if err == nil {
		w.mu.Lock()
		j.e.fp = fp
		if w.recordedLocked(j.e) {
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		if w.cfg.MaxFileSize > 0 && j.size > int64(w.cfg.MaxFileSize) {
			err = &FileError{Op: "check", Path: j.path, Err: fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, j.size, w.cfg.MaxFileSize)}
		}
	}
	if err == nil {
		// Deleted, replaced or rewritten while we read it? An open handle
		// still reads an unlinked file, so look at the path again.
		fi, serr := os.Stat(j.path)
		switch {
		case serr != nil:
			err = &FileError{Op: "stat", Path: j.path, Err: serr}
		case fi.Size() != j.size || !fi.ModTime().Equal(j.mtime):
			w.mu.Lock()
			w.resetLocked(j.e, finder.Found{Path: j.path, Size: fi.Size(), ModTime: fi.ModTime()}, w.now())
			w.mu.Unlock()
			return
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	e := j.e
	if w.files[j.path] != e || e.size != j.size || !e.mtime.Equal(j.mtime) {
		return // changed or vanished meanwhile; it has been reset
	}
	switch {
	case err == nil:
		delete(w.problems, j.path)
		w.readyLocked(e)
	case errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTooLarge):
		w.failLocked(e, err)
	case IsTruncated(err):
		e.truncations++
		if w.truncatedForGoodLocked(e) {
			w.failLocked(e, fmt.Errorf("still truncated after %d checks and %v unchanged: %w", e.truncations, w.now().Sub(e.mtime).Round(time.Second), err))
			return
		}
		w.log.Debug("watcher: file not complete yet", "path", j.path, "err", err)
		w.backoffLocked(e)
	case errors.Is(err, fs.ErrNotExist):
		w.dropLocked(e)
	default: // unreadable, I/O error: log once, try again later
		w.problemLocked(j.path, err)
		w.backoffLocked(e)
	}
}

func (w *Watcher) truncatedForGoodLocked(e *entry) bool {
	if w.cfg.MaxTruncatedAge == 0 && w.cfg.MaxTruncatedAttempts == 0 {
		return false
	}
	return e.truncations >= w.cfg.MaxTruncatedAttempts && w.now().Sub(e.mtime) >= w.cfg.MaxTruncatedAge
}

// recordedLocked reports whether e's content was exported or failed before,
// under this or another name; if so, e takes that record's phase.
func (w *Watcher) recordedLocked(e *entry) bool {
	rec, ok := w.state.lookup(e.key())
	if !ok {
		return false
	}
	w.state.touch(e.key(), w.now())
	w.state.rename(e.key(), e.path, e.mtime)
	e.phase = phaseExported
	if rec.Status == checkpoint.StatusFailed {
		e.phase = phaseFailed
	}
	w.log.Debug("watcher: already recorded", "path", e.path, "status", rec.Status, "recorded_path", rec.Path)
	return true
}

// readyLocked queues e for Next, unless a file with the same content is
// already queued or in flight (then it waits and is looked at again).
func (w *Watcher) readyLocked(e *entry) {
	if w.recordedLocked(e) {
		// A twin with the same content was exported (or failed) while this
		// one was being checked (fingerprint, size, stat).
		return
	}
	if other, ok := w.active[e.key()]; ok && other != e.path {
		w.log.Debug("watcher: same content already queued", "path", e.path, "other", other)
		e.phase = phaseBackoff
		e.retryAt = w.now().Add(w.cfg.RescanInterval)
		w.dueLocked(e.retryAt)
		return
	}
	w.active[e.key()] = e.path
	e.phase = phaseReady
	heap.Push(&w.ready, e)
	w.broadcastLocked()
}

func (w *Watcher) backoffLocked(e *entry) {
	w.unreadyLocked(e)
	e.failures++
	w.stats.Retried++
	e.phase = phaseBackoff
	e.retryAt = w.now().Add(w.cfg.RetryBackoff.delay(e.failures))
	w.dueLocked(e.retryAt)
}

// Next blocks until a complete, not yet exported file is ready and returns
// it, oldest first. It returns ctx.Err() when ctx is done and ErrClosed once
// Run has returned and nothing is ready.
func (w *Watcher) Next(ctx context.Context) (File, error) {
	for {
		w.mu.Lock()
		if w.ready.Len() > 0 {
			e := heap.Pop(&w.ready).(*entry)
			e.phase = phaseInFlight
			e.attempts++
			f := File{Path: e.path, Size: e.size, ModTime: e.mtime, Fingerprint: e.fp, Name: e.info, Attempt: e.attempts}
			w.mu.Unlock()
			return f, nil
		}
		if w.stopped {
			w.mu.Unlock()
			return File{}, ErrClosed
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return File{}, ctx.Err()
		case <-ch:
		}
	}
}

// inFlightLocked finds the entry for f, which must be in flight.
func (w *Watcher) inFlightLocked(f File) (*entry, error) {
	e := w.files[f.Path]
	if e == nil || e.phase != phaseInFlight || e.fp != f.Fingerprint {
		return nil, &FileError{Op: "settle", Path: f.Path, Err: ErrNotInFlight}
	}
	return e, nil
}

// Done records that every span of f was acknowledged: the state file is
// rewritten atomically first, then AfterExport is applied. If the state
// cannot be saved, Done returns an error wrapping ErrState and f stays in
// flight: call Done again later, or Retry to have it offered again. A
// failure to delete or move the file afterwards is logged, not returned:
// the export is recorded and will not be repeated.
func (w *Watcher) Done(f File) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, err := w.inFlightLocked(f)
	if err != nil {
		return err
	}
	now := w.now()
	rec := checkpoint.Record{Fingerprint: f.Fingerprint, Size: f.Size, Path: f.Path, ModTime: f.ModTime.UnixNano(),
		Status: checkpoint.StatusExported, At: now.UTC(), LastSeen: now.UTC()}
	if err := w.state.put(rec, now); err != nil {
		return &FileError{Op: "record export", Path: f.Path, Err: fmt.Errorf("%w: %w", ErrState, err)}
	}
	w.stats.Exported++
	delete(w.active, e.key())
	e.phase = phaseExported
	w.log.Info("watcher: exported", "path", f.Path, "size", f.Size, "attempt", f.Attempt)
	w.afterLocked(e, f)
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return nil
}

// afterLocked applies AfterExport to an exported entry, unless the file
// changed since it was offered (then the new content is looked at anew).
func (w *Watcher) afterLocked(e *entry, f File) {
	fi, err := os.Stat(f.Path)
	if err != nil {
		delete(w.files, e.path)
		return
	}
	if fi.Size() != f.Size || !fi.ModTime().Equal(f.ModTime) {
		w.log.Warn("watcher: file changed while it was exported; leaving it, its new content will be offered", "path", f.Path)
		w.resetLocked(e, finder.Found{Path: f.Path, Size: fi.Size(), ModTime: fi.ModTime()}, w.now())
		return
	}
	switch w.cfg.AfterExport {
	case AfterExportDelete:
		if err := os.Remove(f.Path); err != nil {
			w.log.Warn("watcher: deleting exported file failed", "path", f.Path, "err", err)
			return
		}
		delete(w.files, e.path)
	case AfterExportMove:
		dst, err := moveInto(f.Path, w.find.Roots[e.root].Exported)
		if err != nil {
			w.log.Warn("watcher: moving exported file failed", "path", f.Path, "err", err)
			return
		}
		w.renamedLocked(e, dst, f.ModTime)
	}
}

// Retry puts f back to be offered again after a backoff: the backend was
// unreachable, or the converter found the file truncated (err matches
// IsTruncated). A file that keeps reading as truncated is failed per
// MaxTruncatedAge and MaxTruncatedAttempts.
func (w *Watcher) Retry(f File, err error) error {
	return w.settle(f, func(e *entry) {
		if IsTruncated(err) {
			e.truncations++
			if w.truncatedForGoodLocked(e) {
				w.failLocked(e, fmt.Errorf("still truncated after %d attempts: %w", e.truncations, err))
				return
			}
		}
		w.log.Info("watcher: will retry", "path", f.Path, "attempt", f.Attempt, "err", err)
		w.backoffLocked(e)
	})
}

// Failed records f as permanently unusable (malformed): logged, recorded
// in the state file, moved aside per OnFailure, and never offered again
// unless its content changes. An error is returned only if f was not in
// flight; a state save failure is logged (the file is still set aside in
// memory).
func (w *Watcher) Failed(f File, err error) error {
	return w.settle(f, func(e *entry) { w.failLocked(e, err) })
}

// settle takes f, which must be in flight, out of the active set and runs
// fn on its entry, under the lock; it returns an error wrapping
// ErrNotInFlight otherwise.
func (w *Watcher) settle(f File, fn func(e *entry)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, err := w.inFlightLocked(f)
	if err != nil {
		return err
	}
	delete(w.active, e.key())
	fn(e)
	return nil
}

// failLocked records e as failed and moves it aside per OnFailure. e must
// have a fingerprint, or the record is kept by path in memory only.
func (w *Watcher) failLocked(e *entry, cause error) {
	w.unreadyLocked(e)
	w.stats.Failed++
	e.phase = phaseFailed
	reason := "unknown"
	if cause != nil {
		reason = cause.Error()
	}
	w.log.Error("watcher: trace file failed", "path", e.path, "reason", reason)
	if e.fp == "" {
		// Unfingerprintable (e.g. too short to read a tail): identify it
		// by path, size and mtime.
		e.fp = fmt.Sprintf("path:%s@%d", e.path, e.mtime.UnixNano())
	}
	now := w.now()
	rec := checkpoint.Record{Fingerprint: e.fp, Size: e.size, Path: e.path, ModTime: e.mtime.UnixNano(),
		Status: checkpoint.StatusFailed, Reason: reason, At: now.UTC(), LastSeen: now.UTC()}
	if err := w.state.put(rec, now); err != nil {
		w.log.Warn("watcher: recording failure in state failed", "path", e.path, "err", err)
	}
	if _, err := os.Lstat(e.path); errors.Is(err, fs.ErrNotExist) {
		w.dropLocked(e) // nothing left to move aside
		return
	}
	if w.cfg.OnFailure == OnFailureMove {
		dst, err := moveInto(e.path, w.find.Roots[e.root].Failed)
		if err != nil {
			w.log.Warn("watcher: moving failed file aside failed", "path", e.path, "err", err)
			return
		}
		w.renamedLocked(e, dst, e.mtime)
	}
}

// renamedLocked notes that e's file now lives at dst, outside the scan.
func (w *Watcher) renamedLocked(e *entry, dst string, mtime time.Time) {
	w.state.rename(e.key(), dst, mtime)
	if err := w.state.saveIfDirty(w.now()); err != nil {
		w.log.Warn("watcher: saving state failed", "path", w.state.path, "err", err)
	}
	delete(w.files, e.path)
}

// moveInto renames path into dir (created if needed) under its base name,
// or "<worker>~<n>.<stamp>.pt.trace.json[.gz]"-style names when taken. It
// never overwrites a file.
func moveInto(path, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", &FileError{Op: "move", Path: path, Err: err}
	}
	base := filepath.Base(path)
	dst := filepath.Join(dir, base)
	for n := 1; ; n++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if n > 1000 {
			return "", &FileError{Op: "move", Path: path, Err: fmt.Errorf("no free name in %s", dir)}
		}
		dst = filepath.Join(dir, fmt.Sprintf("dup%d~%s", n, base))
	}
	if err := os.Rename(path, dst); err != nil {
		return "", &FileError{Op: "move", Path: path, Err: err}
	}
	return dst, nil
}

// Stats returns a snapshot of the counters and gauges.
func (w *Watcher) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	now := w.now()
	var oldest time.Time
	for _, e := range w.files {
		switch e.phase {
		case phaseSettling, phaseReady, phaseBackoff:
			s.Queue++
			if oldest.IsZero() || e.mtime.Before(oldest) {
				oldest = e.mtime
			}
		case phaseInFlight:
			s.InFlight++
		}
	}
	s.Ready = w.ready.Len()
	if !oldest.IsZero() {
		s.OldestWaiting = max(now.Sub(oldest), 0)
	}
	s.Problems = len(w.problems)
	for _, o := range w.overrun {
		s.BudgetOverrun += o
	}
	return s
}
