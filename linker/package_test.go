package linker

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain fails the package if goroutines started by the tests outlive
// them (a follower or linker goroutine that ignores its context).
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); code == 0 && n > before {
		fmt.Fprintf(os.Stderr, "goroutine leak: %d before, %d after\n", before, n)
		code = 1
	}
	os.Exit(code)
}
