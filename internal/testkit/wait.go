package testkit

import (
	"net"
	"testing"
	"time"
)

// pollEvery is how often WaitFor checks its condition.
const pollEvery = 10 * time.Millisecond

// WaitFor checks cond every few milliseconds until it holds, and fails t
// (naming what it waited for) if it still does not after timeout.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
}

// FreeAddr returns a loopback host:port nothing listens on right now (the
// port the kernel handed out and took back; another process may take it
// before the caller does, which loopback tests accept).
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free loopback port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("closing the probe listener on %s: %v", addr, err)
	}
	return addr
}
