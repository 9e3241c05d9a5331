package reliability

import (
	"bytes"
	"compress/gzip"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/convtest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// variantTrace is the small real trace with i leading spaces: valid, a
// different file content, and (the ids are seeded by the first 64 KiB of
// JSON) different span ids. It returns the gzip bytes and the span ids.
func variantTrace(t *testing.T, i int) ([]byte, map[string]bool) {
	t.Helper()
	plain := testkit.Gunzip(t, testkit.ReadFile(t, smallTrace))
	doc := append(bytes.Repeat([]byte{' '}, i), plain...)
	ids := map[string]bool{}
	opts := converter.DefaultOptions()
	opts.IdentityAttrs = convtest.DaemonIdentity()
	if _, err := converter.Convert(context.Background(), bytes.NewReader(doc), opts, func(b *span.Batch) error {
		for k := range b.Spans {
			ids[b.Spans[k].SpanID.String()] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	_, _ = zw.Write(doc)
	_ = zw.Close()
	return gz.Bytes(), ids
}

// TestKill9DuringExport kills the daemon with SIGKILL at a random point of
// an export (after a random number of acknowledged requests, plus a random
// part of the next one) again and again, restarting it each time on the same
// state file; a final run finishes. Every span must arrive at least once,
// with exactly the ids of a direct conversion, and a run after the file was
// recorded must send nothing more.
func TestKill9DuringExport(t *testing.T) {
	kills := 20
	if longTests() {
		kills = 100
	}
	want := convtest.SpanIDs(t, smallTrace)
	c := testkit.StartCollector(t, otlptest.Options{})
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	name := filepath.Base(smallTrace)
	testkit.PlaceFile(t, filepath.Join(dir, name), testkit.ReadFile(t, smallTrace))
	// The smallest requests (64 KiB, ~80 for this file), one at a time,
	// each answered after 10 ms: a kill after 1-40 requests lands inside
	// the export.
	args := daemonArgs(dir, state, c, "--max-request-bytes", "64KiB", "--max-in-flight", "1", "--settle-time", "50ms", "--rescan-interval", "100ms")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	c.SetDelay(10 * time.Millisecond)
	start := time.Now()
	midExport := 0
	for k := 0; k < kills; k++ {
		before := c.Stats().Requests
		n := 1 + rng.IntN(40)
		d := startChild(t, args, nil)
		testkit.WaitFor(t, "the export to reach the kill point", 30*time.Second, func() bool { return c.Stats().Requests >= before+n })
		time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
		d.Kill()
		if testkit.StateRecords(t, state)[name] == "" {
			midExport++
		}
	}
	killTime := time.Since(start)
	perRun := c.Stats().Requests
	c.SetDelay(0)
	d := startChild(t, args, nil)
	testkit.WaitFor(t, "the file to be recorded as exported", 60*time.Second, func() bool { return testkit.StateRecords(t, state)[name] == "exported" })
	got, total := c.SpanIDs()
	checkAllDelivered(t, want, got)
	d.Stop(t)

	// Once recorded, a restart sends nothing.
	d = startChild(t, args, nil)
	time.Sleep(time.Second)
	d.Stop(t)
	if _, n := c.SpanIDs(); n != total {
		t.Fatalf("a restart after the export sent %d more spans", n-total)
	}
	t.Logf("seed %d: %d kill -9 (%d mid-export, state not yet written) in %.1fs, %d requests before the final run; %d spans received for %d distinct ids, all %d expected ids present, none foreign",
		seed, kills, midExport, killTime.Seconds(), perRun, total, len(got), len(want))
	if midExport < kills*3/4 {
		t.Errorf("only %d of %d kills landed before the file was recorded: the export is too fast for this test", midExport, kills)
	}
}

// TestBackendFlapping takes the collector down for 250 ms every 750 ms for
// ~5 s (down 1.5 s every 4.5 s for 90 s with BRIDGE_LONG_TESTS=1) while three files are
// exported slowly: every span of every file arrives and every file is
// recorded as exported.
func TestBackendFlapping(t *testing.T) {
	period, flaps := 500*time.Millisecond, 7
	if longTests() {
		period, flaps = 3*time.Second, 20
	}
	c := testkit.StartCollector(t, otlptest.Options{})
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	want := map[string]bool{}
	var names []string
	for i := 0; i < 3; i++ {
		b, ids := variantTrace(t, i)
		for id := range ids {
			want[id] = true
		}
		name := traceName(i, true)
		names = append(names, name)
		testkit.PlaceFile(t, filepath.Join(dir, name), b)
	}
	c.SetDelay(10 * time.Millisecond)
	d := startChild(t, daemonArgs(dir, state, c, "--max-request-bytes", "64KiB", "--max-in-flight", "2", "--retry-max-elapsed", "0"), nil)
	start := time.Now()
	for i := 0; i < flaps; i++ {
		time.Sleep(period)
		c.Down()
		time.Sleep(period / 2)
		if err := c.Up(); err != nil {
			t.Fatal(err)
		}
	}
	flapTime := time.Since(start)
	testkit.WaitFor(t, "every file to be recorded as exported", 60*time.Second, func() bool {
		recs := testkit.StateRecords(t, state)
		for _, n := range names {
			if recs[n] != "exported" {
				return false
			}
		}
		return true
	})
	got, total := c.SpanIDs()
	checkAllDelivered(t, want, got)
	if !d.Alive() {
		t.Fatal("daemon exited")
	}
	d.Stop(t)
	st := c.Stats()
	t.Logf("%d outages over %.1fs; %d files, %d distinct span ids expected and received (%d spans in %d accepted requests, re-sent: %d)",
		flaps, flapTime.Seconds(), len(names), len(want), total, st.Requests, total-len(want))
}

// readOnlyState is a daemon run as user nobody whose state file is in a
// directory only root may write (tests run as root, whom permission bits
// do not stop), with smallTrace placed in its profiler directory.
type readOnlyState struct {
	c                          *otlptest.Collector
	d                          *testkit.Process
	dir, stateDir, state, name string
}

func startReadOnlyState(t *testing.T) readOnlyState {
	t.Helper()
	rs := readOnlyState{c: testkit.StartCollector(t, otlptest.Options{}), dir: sharedDir(t, 0o777), stateDir: sharedDir(t, 0o555), name: filepath.Base(smallTrace)}
	rs.state = filepath.Join(rs.stateDir, "state.json")
	rs.d = startChild(t, daemonArgs(rs.dir, rs.state, rs.c), nobody)
	testkit.PlaceFile(t, filepath.Join(rs.dir, rs.name), testkit.ReadFile(t, smallTrace))
	return rs
}

// TestStateDirNotWritable runs the daemon as user nobody with its state
// file in a directory only root may write (tests run as root, whom
// permission bits do not stop, so the daemon drops to nobody): the file is
// exported, the daemon says it cannot save the record and keeps running
// without claiming it recorded; after a restart with a writable directory
// the file is sent again with the same ids and recorded.
func TestStateDirNotWritable(t *testing.T) {
	t.Parallel()
	want := convtest.SpanIDs(t, smallTrace)
	rs := startReadOnlyState(t)
	c, d, dir, stateDir, state, name := rs.c, rs.d, rs.dir, rs.stateDir, rs.state, rs.name
	testkit.WaitFor(t, "the spans", 30*time.Second, func() bool { got, _ := c.SpanIDs(); return len(got) == len(want) })
	testkit.WaitFor(t, "a log line about the state file", 10*time.Second, func() bool { return strings.Contains(d.Output(), "permission denied") })
	time.Sleep(500 * time.Millisecond)
	if !d.Alive() {
		t.Fatal("daemon died when the state file could not be saved")
	}
	if recs := testkit.StateRecords(t, state); len(recs) != 0 {
		t.Fatalf("state file written in a read-only directory: %v", recs)
	}
	t.Logf("state save failure reported: %s", firstLine(d.Output(), "permission denied"))

	// The daemon stops, the directory becomes writable, and a restart
	// sends the file again (same ids) and records it.
	d.Stop(t)
	_, before := c.SpanIDs()
	if err := os.Chmod(stateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	d = startChild(t, daemonArgs(dir, state, c), nobody)
	testkit.WaitFor(t, "the state file to be written after a restart", 30*time.Second, func() bool { return testkit.StateRecords(t, state)[name] == "exported" })
	d.Stop(t)
	got, total := c.SpanIDs()
	checkAllDelivered(t, want, got)
	t.Logf("restart re-sent %d spans with the same %d ids and recorded the file", total-before, len(want))
}

func firstLine(out, sub string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, sub) {
			return testkit.Tail(l, 400)
		}
	}
	return ""
}

// TestDiskBudget runs the daemon with a disk budget smaller than two trace
// files while the backend goes down: only exported files are ever deleted
// (oldest first), files not exported yet stay even above the budget (the
// overrun is logged), and every span of every file is delivered.
func TestDiskBudget(t *testing.T) {
	t.Parallel()
	c := testkit.StartCollector(t, otlptest.Options{})
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	files := make([][]byte, 3)
	want := map[string]bool{}
	for i := range files {
		var ids map[string]bool
		files[i], ids = variantTrace(t, i)
		for id := range ids {
			want[id] = true
		}
	}
	budget := len(files[0]) + len(files[0])/4 // one file fits, two do not
	d := startChild(t, daemonArgs(dir, state, c, "--disk-budget", strconv.Itoa(budget)), nil)
	exists := func(i int) bool { _, err := os.Stat(filepath.Join(dir, traceName(i, true))); return err == nil }

	testkit.PlaceFile(t, filepath.Join(dir, traceName(0, true)), files[0])
	testkit.WaitFor(t, "file 0 exported", 30*time.Second, func() bool { return testkit.StateRecords(t, state)[traceName(0, true)] == "exported" })
	if !exists(0) {
		t.Fatal("file 0 deleted although the directory is within the budget")
	}

	c.Down()
	testkit.PlaceFile(t, filepath.Join(dir, traceName(1, true)), files[1])
	testkit.WaitFor(t, "the exported file 0 deleted to make room", 30*time.Second, func() bool { return !exists(0) })
	testkit.PlaceFile(t, filepath.Join(dir, traceName(2, true)), files[2])
	testkit.WaitFor(t, "the overrun logged", 30*time.Second, func() bool {
		return strings.Contains(d.Output(), "disk budget exceeded by files not exported yet")
	})
	time.Sleep(time.Second)
	if !exists(1) || !exists(2) {
		t.Fatal("a file not exported yet was deleted to keep the disk budget")
	}
	if err := c.Up(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "files 1 and 2 exported", 60*time.Second, func() bool {
		r := testkit.StateRecords(t, state)
		return r[traceName(1, true)] == "exported" && r[traceName(2, true)] == "exported"
	})
	testkit.WaitFor(t, "the oldest exported file deleted again", 30*time.Second, func() bool { return !exists(1) })
	if !exists(2) {
		t.Fatal("the newest file was deleted although one file fits the budget")
	}
	got, _ := c.SpanIDs()
	checkAllDelivered(t, want, got)
	d.Stop(t)
	t.Logf("budget %d B, files of %d B: 2 exported files deleted by the budget, 2 unexported files kept above it with the overrun logged, %d span ids delivered",
		budget, len(files[0]), len(want))
}
