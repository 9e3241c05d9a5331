package testkit

import (
	"context"
	"testing"
	"time"
)

// Background is a function that a test runs on its own goroutine (a
// watcher's Run, a daemon's Main) until it stops it.
type Background struct {
	name   string
	wait   time.Duration
	cancel context.CancelFunc
	done   chan error
}

// Go runs fn on a new goroutine with a context that Stop cancels; the
// test's cleanup stops it if the test did not.
func Go(t testing.TB, name string, wait time.Duration, fn func(ctx context.Context) error) *Background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &Background{name: name, wait: wait, cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- fn(ctx) }()
	t.Cleanup(func() { b.Stop(t) })
	return b
}

// Stop cancels the context and waits up to the wait given to Go for fn to
// return. It fails t if fn returned an error, or did not return in time
// (fn then goes on running, and the leak check will name it). Stop may be
// called more than once; later calls do nothing.
func (b *Background) Stop(t testing.TB) {
	t.Helper()
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	select {
	case err := <-b.done:
		if err != nil {
			t.Errorf("%s returned %v", b.name, err)
		}
	case <-time.After(b.wait):
		t.Fatalf("%s did not return within %s of its context's end", b.name, b.wait)
	}
}
