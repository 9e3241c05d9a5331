package exporter

import (
	"context"
	"sync"
)

// Tracker follows the delivery of the spans exported with it, typically
// those of one trace file: Wait returns nil once every request holding
// them was acknowledged by the backend, so the file can be marked done.
type Tracker struct {
	e       *Exporter
	mu      sync.Mutex
	pending int // requests (open one included) holding our spans
	closed  bool
	err     error
	acked   int64
	doneCh  chan struct{}
	isDone  bool
}

// NewTracker returns a Tracker for a new unit of work.
func (e *Exporter) NewTracker() *Tracker {
	return &Tracker{e: e, doneCh: make(chan struct{})}
}

func (t *Tracker) hold() {
	t.mu.Lock()
	t.pending++
	t.mu.Unlock()
}

// done records the fate of one request that held our spans.
func (t *Tracker) done(spans int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending--
	if err != nil && t.err == nil {
		t.err = err
	}
	if err == nil {
		t.acked += int64(spans)
	}
	t.check()
}

// fail records an error that happened outside a request.
func (t *Tracker) fail(err error) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = err
	}
	t.check()
}

func (t *Tracker) check() {
	if !t.isDone && t.closed && (t.pending == 0 || t.err != nil) {
		t.isDone = true
		close(t.doneCh)
	}
}

func (t *Tracker) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// Close says no more spans will be exported with t. Export with a closed
// tracker fails with ErrTrackerClosed.
func (t *Tracker) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	t.check()
}

// Wait closes t, sends the partly filled request if it holds t's spans,
// and waits until every request holding t's spans was acknowledged (nil)
// or one failed for good (its *ExportError), or ctx ends.
func (t *Tracker) Wait(ctx context.Context) error {
	t.Close()
	if err := t.e.flushFor(ctx, t); err != nil {
		return err
	}
	select {
	case <-t.doneCh:
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Acked returns the number of t's spans acknowledged so far.
func (t *Tracker) Acked() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.acked
}
