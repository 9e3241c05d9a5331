package exporter

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if an Exporter goroutine (sender or ticker)
// outlives the tests: every test shuts its exporters down.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leak := exporterGoroutines(2 * time.Second); leak != "" {
			fmt.Fprintf(os.Stderr, "leaked exporter goroutines:\n%s\n", leak)
			code = 1
		}
	}
	os.Exit(code)
}

func exporterGoroutines(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaks []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "exporter.(*Exporter).worker") || strings.Contains(g, "exporter.(*Exporter).ticker") {
				leaks = append(leaks, g)
			}
		}
		if len(leaks) == 0 || time.Now().After(deadline) {
			return strings.Join(leaks, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
