package reliability

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/convtest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// writeCase writes a bad case to path (via a temp name and a rename).
func writeCase(t *testing.T, c badCase, path string) {
	t.Helper()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := c.gen(bw); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// traceName is a v0.17+ file name for rank r.
func traceName(r int, gz bool) string {
	n := fmt.Sprintf("dp0_pp0_tp0_dcp0_ep0_rank%d.%d.pt.trace.json", r, 1795789278257156267+int64(r))
	if gz {
		n += ".gz"
	}
	return n
}

// TestDaemonBadInput drops every hostile input into the profiler directory
// of a running daemon, then a good file: each bad file is failed (moved to
// failed/, its name and reason logged) or, where the converter tolerates
// it, exported; the daemon keeps running, stays within a bounded RSS, and
// still exports the good file afterwards.
func TestDaemonBadInput(t *testing.T) {
	t.Parallel()
	testDaemonBadInput(t, false)
}

// TestDaemonHugeInput drops the 100 MB event and the 10 MB name. Both
// convert; the huge string is cut to the converter's 64 KiB limit (and the
// cut is logged), so the span fits every backend (4 MiB gRPC limit of
// Jaeger and Tempo) and the file is exported and recorded, within a
// bounded RSS.
func TestDaemonHugeInput(t *testing.T) {
	t.Parallel()
	testDaemonBadInput(t, true)
}

func testDaemonBadInput(t *testing.T, big bool) {
	want := convtest.SpanIDs(t, smallTrace)
	c := testkit.StartCollector(t, otlptest.Options{})
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	d := startChild(t, daemonArgs(dir, state, c), nil)

	var cases []badCase
	for _, bc := range badCases(t) {
		// A sample of the wrong-type cases: the in-process test has all.
		if strings.HasPrefix(bc.name, "wrong type") && !strings.Contains(bc.name, `=[1,"a"]`) {
			continue
		}
		if bc.big != big {
			continue
		}
		cases = append(cases, bc)
	}
	names := map[string]badCase{}
	for i, bc := range cases {
		name := traceName(i+1, bc.gz)
		names[name] = bc
		writeCase(t, bc, filepath.Join(dir, name))
	}
	isFailed := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, "failed", name))
		return err == nil
	}
	exportedLog := func(name string) bool {
		for _, line := range strings.Split(d.Output(), "\n") {
			if strings.Contains(line, `msg="watcher: exported"`) && strings.Contains(line, "/"+name+" ") {
				return true
			}
		}
		return false
	}
	testkit.WaitFor(t, "every bad file to be failed or exported", 60*time.Second, func() bool {
		for name, bc := range names {
			switch {
			case bc.want == nil, bc.big:
				if !exportedLog(name) {
					return false
				}
			case bc.want == errAny:
				if !exportedLog(name) && !isFailed(name) {
					return false
				}
			default:
				if !isFailed(name) {
					return false
				}
			}
		}
		return true
	})
	logs := d.Output()
	failed, exported, truncated := 0, 0, 0
	for name, bc := range names {
		switch {
		case isFailed(name):
			failed++
			if bc.want == nil {
				t.Errorf("%s (%s) was failed; it should convert", name, bc.name)
			}
			if !strings.Contains(logs, name) {
				t.Errorf("no log line names the failed file %s (%s)", name, bc.name)
			}
		case bc.big:
			// The huge string was cut (and counted) and the file exported.
			truncated++
			if !exportedLog(name) {
				t.Errorf("%s (%s) was not exported", name, bc.name)
			}
			if !strings.Contains(logs, "strings_truncated=1") {
				t.Errorf("the cut string of %s was not reported", name)
			}
		default:
			exported++
			if !exportedLog(name) {
				t.Errorf("%s (%s) neither failed nor exported", name, bc.name)
			}
		}
	}
	if !d.Alive() {
		t.Fatalf("daemon died on bad input")
	}
	hwmBad := d.VmHWM()

	// A good file dropped afterwards is still exported, completely.
	testkit.PlaceFile(t, filepath.Join(dir, filepath.Base(smallTrace)), testkit.ReadFile(t, smallTrace))
	testkit.WaitFor(t, "the good file's spans", 60*time.Second, arrived(c, want))
	hwm := d.VmHWM()
	d.Stop(t)
	if os.Getenv("SHOWLOG") != "" {
		t.Log(d.Output())
	}
	t.Logf("%d hostile files: %d failed with a logged reason, %d tolerated and exported, %d exported with a huge string cut to 64 KiB; good file's %d spans delivered afterwards; daemon VmHWM %.0f MiB after the bad files, %.0f MiB at the end",
		len(names), failed, exported, truncated, len(want), float64(hwmBad)/1024, float64(hwm)/1024)
	// The 100 MB event is the largest input; the daemon must not hold
	// many copies of it.
	if hwm > 1536*1024 {
		t.Errorf("daemon peak RSS %d KiB: over 1.5 GiB for a 100 MB input", hwm)
	}
}
