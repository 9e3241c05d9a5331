package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Start says where following begins in the file present at start-up.
type Start uint8

// Start positions. Files that appear later (created, or rotated in) are
// always read from their beginning.
const (
	// FromBeginning reads the whole existing file first (the default: the
	// linker wants the requests already in flight).
	FromBeginning Start = iota
	// FromEnd skips what the file holds at start-up.
	FromEnd
)

// Options configures Follow.
type Options struct {
	Start Start
	// PollInterval is how often the file is checked for new data, rotation
	// and truncation. Default 250ms.
	PollInterval time.Duration
	// MaxLineBytes caps a delivered line; the rest of a longer line is
	// skipped and Line.Truncated set. Default 1 MiB.
	MaxLineBytes int
	// OnIdle, if set, is called each time the follower has read everything
	// there is (at end of file with nothing new), with the time it checked.
	// The daemon uses it to advance the source's watermark.
	OnIdle func(at time.Time)
}

func (o *Options) defaults() {
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 1 << 20
	}
}

// Line is one line of the file, without its newline (and without a
// trailing "\r"). Text is only valid during the handler call.
type Line struct {
	Text []byte
	// Offset is the byte offset of the line's start in the file it was
	// read from (which may since have been rotated away).
	Offset int64
	// Truncated says the line was longer than MaxLineBytes.
	Truncated bool
}

// ErrStopped is never returned by Follow itself; handlers may return it to
// stop following without reporting a failure.
var ErrStopped = errors.New("tail: stopped by handler")

// Follow follows path until ctx is done or handler returns an error. It
// returns nil when ctx ends or the handler returns ErrStopped; otherwise
// the handler's error or a read error, wrapped with the path.
func Follow(ctx context.Context, path string, opts Options, handler func(Line) error) error {
	opts.defaults()
	f := &follower{path: path, opts: opts, handler: handler}
	err := f.run(ctx)
	if f.file != nil {
		f.file.Close()
	}
	if errors.Is(err, ErrStopped) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// FollowAll follows several files in parallel, one goroutine each; handler
// is called from those goroutines (for one path, always from the same one,
// in file order). The first error stops all of them.
func FollowAll(ctx context.Context, paths []string, opts Options, handler func(path string, l Line) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(paths))
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = Follow(ctx, p, opts, func(l Line) error { return handler(p, l) })
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

type follower struct {
	path    string
	opts    Options
	handler func(Line) error

	file    *os.File
	info    fs.FileInfo
	offset  int64 // bytes read from file so far
	partial []byte
	skip    bool // discarding the rest of an over-long line
	lineOff int64
	buf     []byte
	first   bool
}

func (f *follower) run(ctx context.Context) error {
	f.first = true
	f.buf = make([]byte, 64<<10)
	t := time.NewTicker(f.opts.PollInterval)
	defer t.Stop()
	for {
		if err := f.poll(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// poll reads what is new and handles rotation and truncation.
func (f *follower) poll() error {
	if f.file == nil {
		if err := f.open(); err != nil || f.file == nil {
			return err
		}
	}
	if err := f.drain(); err != nil {
		return err
	}
	st, err := os.Stat(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Renamed away and not yet replaced: keep the old handle, which
		// may still be written to, until a new file appears.
		return nil
	case err != nil:
		return fmt.Errorf("tail: %s: %w", f.path, err)
	case !os.SameFile(st, f.info):
		// Rotated by rename: finish the old file, then switch.
		if err := f.drain(); err != nil {
			return err
		}
		if err := f.flushPartial(); err != nil {
			return err
		}
		f.file.Close()
		f.file = nil
		if err := f.open(); err != nil || f.file == nil {
			return err
		}
		return f.drain()
	case st.Size() < f.offset:
		// Truncated in place (copytruncate): the held partial line's end is
		// gone; start again at the beginning.
		if _, err := f.file.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("tail: %s: %w", f.path, err)
		}
		f.offset, f.partial, f.skip = 0, f.partial[:0], false
		return f.drain()
	}
	if f.opts.OnIdle != nil {
		f.opts.OnIdle(time.Now())
	}
	return nil
}

func (f *follower) open() error {
	file, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		f.first = false // a file created later is read from its start
		return nil
	}
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return fmt.Errorf("tail: %s: %w", f.path, err)
	}
	f.file, f.info, f.offset, f.partial, f.skip = file, st, 0, f.partial[:0], false
	if f.first && f.opts.Start == FromEnd {
		if f.offset, err = file.Seek(0, io.SeekEnd); err != nil {
			return fmt.Errorf("tail: %s: %w", f.path, err)
		}
	}
	f.first = false
	return nil
}

// drain reads to the current end of the open file.
func (f *follower) drain() error {
	for {
		n, err := f.file.Read(f.buf)
		if n > 0 {
			if herr := f.feed(f.buf[:n]); herr != nil {
				return herr
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tail: %s: %w", f.path, err)
		}
	}
}

func (f *follower) feed(b []byte) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if len(f.partial) == 0 && !f.skip {
			f.lineOff = f.offset
		}
		if !f.skip {
			room := f.opts.MaxLineBytes - len(f.partial)
			if len(chunk) > room {
				f.partial = append(f.partial, chunk[:room]...)
				f.skip = true
			} else {
				f.partial = append(f.partial, chunk...)
			}
		}
		if i < 0 {
			f.offset += int64(len(b))
			return nil
		}
		f.offset += int64(i + 1)
		b = b[i+1:]
		if err := f.deliver(); err != nil {
			return err
		}
	}
	return nil
}

func (f *follower) deliver() error {
	text := bytes.TrimSuffix(f.partial, []byte("\r"))
	err := f.handler(Line{Text: text, Offset: f.lineOff, Truncated: f.skip})
	f.partial, f.skip = f.partial[:0], false
	return err
}

// flushPartial delivers a last line that lost its newline because its file
// was rotated away.
func (f *follower) flushPartial() error {
	if len(f.partial) == 0 && !f.skip {
		return nil
	}
	return f.deliver()
}
