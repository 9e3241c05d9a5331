package receiver

import "sync/atomic"

// limiter counts bytes held by requests in flight against a fixed bound.
// Acquisition never blocks: a request that does not fit is refused, which is
// what lets the receiver answer "retry later" instead of queueing.
type limiter struct {
	max  int64
	cur  atomic.Int64
	peak atomic.Int64
}

func newLimiter(max int64) *limiter { return &limiter{max: max} }

// tryAcquire takes n bytes if they fit under the bound.
func (l *limiter) tryAcquire(n int64) bool {
	for {
		c := l.cur.Load()
		if c+n > l.max {
			return false
		}
		if l.cur.CompareAndSwap(c, c+n) {
			l.notePeak(c + n)
			return true
		}
	}
}

// release gives back n bytes taken by tryAcquire.
func (l *limiter) release(n int64) {
	if n != 0 {
		l.cur.Add(-n)
	}
}

func (l *limiter) notePeak(v int64) {
	for {
		p := l.peak.Load()
		if v <= p || l.peak.CompareAndSwap(p, v) {
			return
		}
	}
}
