package testkit

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// leakWait is how long RunTests lets goroutines that are ending (a server
// draining, a sender seeing its context cancelled) finish before it calls
// them leaked. One goleak.Find waits only about half a second, so RunTests
// repeats it until leakWait has passed.
const leakWait = 5 * time.Second

// RunTests runs the package's tests and, if they all passed, fails the
// run when any goroutine they started is still running afterwards
// (goleak.Find over every goroutine but the test runner's own). It returns
// the exit code for os.Exit, so that a TestMain can set up and tear down
// around it:
//
//	func TestMain(m *testing.M) { os.Exit(testkit.RunTests(m)) }
//
// Before it looks, it closes http.DefaultClient's idle connections, whose
// read and write loops would otherwise be counted. opts add goleak options
// (for example goleak.IgnoreTopFunction for a goroutine a dependency keeps
// on purpose; say why where you add one).
func RunTests(m *testing.M, opts ...goleak.Option) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	http.DefaultClient.CloseIdleConnections()
	if err := findLeaks(leakWait, opts...); err != nil {
		fmt.Fprintf(os.Stderr, "goroutines outlived the tests that started them: %v\n", err)
		return 1
	}
	return 0
}

// findLeaks runs goleak.Find until it finds nothing or wait has passed,
// and returns its last error.
func findLeaks(wait time.Duration, opts ...goleak.Option) error {
	deadline := time.Now().Add(wait)
	for {
		err := goleak.Find(opts...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}
