package reliability

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/convtest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// writeManyEvents writes a valid plain-JSON trace of n CPU ops (~150 B each).
func writeManyEvents(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path + ".tmp")
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprint(w, `{"schemaVersion":1,"traceEvents":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, `{"ph":"X","cat":"cpu_op","name":"aten::op_%d","pid":1,"tid":%d,"ts":%d.000,"dur":1.000,"args":{"External id":%d}}`, i%97, 1+i%4, 1700000000000000+int64(i)*2, i)
	}
	fmt.Fprint(w, `]}`)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// readOffset returns the file offset of pid's open descriptor on path, or
// -1 while it has none.
func readOffset(pid int, path string) int64 {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && l == path {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd.Name()))
			if err != nil {
				return -1
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "pos:"); ok {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					return n
				}
			}
		}
	}
	return -1
}

// TestDaemonFileChangedWhileRead cuts a large trace to half, or deletes it,
// while the daemon is reading it (seen through /proc/<pid>/fdinfo): the cut
// file gives no span and is failed as truncated once it stops changing, the
// deleted one is exported completely or not at all, and a good file dropped
// afterwards is exported.
func TestDaemonFileChangedWhileRead(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"truncate", "delete"} {
		t.Run(mode, func(t *testing.T) {
			c := testkit.StartCollector(t, otlptest.Options{})
			dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
			name := traceName(7, false)
			path := filepath.Join(dir, name)
			writeManyEvents(t, path, 400_000)
			fi, _ := os.Stat(path)
			d := startChild(t, daemonArgs(dir, state, c), nil)
			var pos int64 = -1
			testkit.WaitFor(t, "the daemon reading the file", 30*time.Second, func() bool {
				pos = readOffset(d.Pid(), path)
				return pos > 0 && pos < fi.Size()
			})
			switch mode {
			case "truncate":
				if err := os.Truncate(path, fi.Size()/2); err != nil {
					t.Fatal(err)
				}
				testkit.WaitFor(t, "the cut file failed", 30*time.Second, func() bool {
					_, err := os.Stat(filepath.Join(dir, "failed", name))
					return err == nil
				})
				if n := c.Stats().Spans; n != 0 {
					t.Fatalf("%d spans exported from a file cut while it was read", n)
				}
			case "delete":
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * time.Second)
			}
			spansBefore := c.Stats().Spans
			want := convtest.SpanIDs(t, smallTrace)
			testkit.PlaceFile(t, filepath.Join(dir, filepath.Base(smallTrace)), testkit.ReadFile(t, smallTrace))
			testkit.WaitFor(t, "the good file exported", 30*time.Second, func() bool {
				return testkit.StateRecords(t, state)[filepath.Base(smallTrace)] == "exported"
			})
			got, _ := c.SpanIDs()
			for id := range want {
				if got[id] == 0 {
					t.Fatalf("span %s of the good file lost", id)
				}
			}
			d.Stop(t)
			t.Logf("%s at byte %d of %d: %d spans of the changed file exported; file record %q; reason: %s", mode, pos, fi.Size(), spansBefore, testkit.StateRecords(t, state)[name], firstLine(d.Output(), name))
		})
	}
}

// TestDaemonSymlinkOutside links a trace from outside the profiler
// directory into it: ignored by default (logged), exported with
// --follow-symlinks.
func TestDaemonSymlinkOutside(t *testing.T) {
	t.Parallel()
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow=%v", follow), func(t *testing.T) {
			c := testkit.StartCollector(t, otlptest.Options{})
			dir, state, outside := t.TempDir(), filepath.Join(t.TempDir(), "state.json"), t.TempDir()
			target := filepath.Join(outside, "secret.pt.trace.json.gz")
			if err := os.WriteFile(target, testkit.ReadFile(t, smallTrace), 0o644); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, traceName(3, true))
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			var extra []string
			if follow {
				extra = []string{"--follow-symlinks"}
			}
			d := startChild(t, daemonArgs(dir, state, c, extra...), nil)
			if follow {
				want := convtest.SpanIDs(t, smallTrace)
				testkit.WaitFor(t, "the linked file exported", 30*time.Second, func() bool { got, _ := c.SpanIDs(); return len(got) == len(want) })
				d.Stop(t)
				return
			}
			// A good file next to it proves the daemon scanned the directory.
			good := traceName(4, false)
			testkit.PlaceFile(t, filepath.Join(dir, good), []byte(trace(event())))
			testkit.WaitFor(t, "the good file exported", 30*time.Second, func() bool { return testkit.StateRecords(t, state)[good] == "exported" })
			time.Sleep(time.Second)
			if n := c.Stats().Spans; n > 3 {
				t.Fatalf("%d spans exported: the symlink pointing outside was followed", n)
			}
			if _, err := os.Lstat(link); err != nil {
				t.Fatalf("the symlink was moved or removed: %v", err)
			}
			if _, err := os.Stat(target); err != nil {
				t.Fatalf("the target outside the profiler dir was touched: %v", err)
			}
			t.Logf("symlink ignored; log: %s", firstLine(d.Output(), "symlink"))
			d.Stop(t)
		})
	}
}

// TestDaemonUnreadableFile runs the daemon as user nobody (root ignores
// permission bits) with a trace file of mode 000 in its directory: the
// file is reported as unreadable and left alone, the daemon goes on, and
// the file is exported once it becomes readable.
func TestDaemonUnreadableFile(t *testing.T) {
	t.Parallel()
	c := testkit.StartCollector(t, otlptest.Options{})
	dir := sharedDir(t, 0o777)
	stateDir := sharedDir(t, 0o777)
	state := filepath.Join(stateDir, "state.json")
	locked := filepath.Join(dir, filepath.Base(smallTrace))
	if err := os.WriteFile(locked, testkit.ReadFile(t, smallTrace), 0o000); err != nil {
		t.Fatal(err)
	}
	d := startChild(t, daemonArgs(dir, state, c), nobody)
	good := traceName(4, false)
	testkit.PlaceFile(t, filepath.Join(dir, good), []byte(trace(event())))
	if err := os.Chmod(filepath.Join(dir, good), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the good file exported", 30*time.Second, func() bool { return testkit.StateRecords(t, state)[good] == "exported" })
	testkit.WaitFor(t, "the unreadable file reported", 10*time.Second, func() bool { return strings.Contains(d.Output(), "permission denied") })
	if _, err := os.Stat(locked); err != nil {
		t.Fatalf("the unreadable file was moved: %v", err)
	}
	if n := c.Stats().Spans; n > 3 {
		t.Fatalf("%d spans: the unreadable file was exported?", n)
	}
	line := firstLine(d.Output(), "permission denied")
	if err := os.Chmod(locked, 0o644); err != nil {
		t.Fatal(err)
	}
	want := convtest.SpanIDs(t, smallTrace)
	testkit.WaitFor(t, "the file exported once readable", 60*time.Second, func() bool {
		got, _ := c.SpanIDs()
		return len(got) >= len(want)
	})
	d.Stop(t)
	t.Logf("unreadable file reported: %s", line)
}
