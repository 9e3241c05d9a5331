package watcher

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/bytesize"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher/checkpoint"
)

// consumerVerdict is what the daemon's consumer (the converter) says of a
// .gz the watcher offered: nil when its stream inflates to a clean end with
// a matching trailer, else an error matching ErrTruncated for a cut one.
// The test inflates with compress/gzip, independently of the watcher.
func consumerVerdict(t *testing.T, path string) error {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := stdgzip.NewReader(bytes.NewReader(raw))
	if err == nil {
		_, err = io.Copy(io.Discard, zr)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("converter: %w: %w", ErrTruncated, err)
	}
	t.Fatalf("%s: %v", path, err)
	return nil
}

// A .gz that PyTorch grows in place: offered whenever it settles (the
// watcher does not inflate it to its end), handed back as truncated while
// it is cut, and exported once, whole.
func TestSlowGzipOfferedOnceAfterComplete(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := start(t, testConfig(t, dir))
	data := testkit.Gzip(t, traceJSON("slow", 3000))
	path := filepath.Join(dir, traceName(0, 1795789272497483694, true))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const chunks = 8
	step := len(data)/chunks + 1
	for i := 0; i < len(data); i += step {
		if _, err := f.Write(data[i:min(i+step, len(data))]); err != nil {
			t.Fatal(err)
		}
		if i+step >= len(data) {
			break // complete: it may be offered from now on
		}
		if i == 3*step {
			// Halfway, stop writing until the watcher has offered the
			// settled but incomplete stream and the consumer handed it back.
			cut := w.mustNext(t)
			if cut.Size != int64(i+step) {
				t.Fatalf("offered %d bytes, want the %d written", cut.Size, i+step)
			}
			verdict := consumerVerdict(t, path)
			if !IsTruncated(verdict) {
				t.Fatalf("consumer's verdict on %d of %d bytes: %v, want truncated", cut.Size, len(data), verdict)
			}
			if err := w.Retry(cut, verdict); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got := w.mustNext(t)
	if got.Path != path || got.Size != int64(len(data)) || got.Attempt != 2 {
		t.Fatalf("offered %+v, want %s with %d bytes, attempt 2", got, path, len(data))
	}
	if err := consumerVerdict(t, path); err != nil {
		t.Fatalf("the complete file: %v", err)
	}
	if !strings.HasPrefix(got.Fingerprint, "xxh64:") || got.Name.Rank != 0 || !got.Name.Gzip {
		t.Errorf("bad File fields: %+v", got)
	}
	w.expectNone(t, 250*time.Millisecond) // never offered twice at once
	w.mustDone(t, got)
	if err := w.Done(got); !errors.Is(err, ErrNotInFlight) {
		t.Errorf("second Done: %v, want ErrNotInFlight", err)
	}
	w.expectNone(t, 250*time.Millisecond)
	s := w.Stats()
	if s.Seen != 1 || s.Exported != 1 || s.Retried != 1 || s.Queue != 0 || s.InFlight != 0 {
		t.Errorf("stats %+v: want seen 1, exported 1, retried 1, nothing queued or in flight", s)
	}
}

func TestPlainJSONRenamedIntoPlace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := start(t, testConfig(t, dir))
	final := filepath.Join(dir, traceName(1, 1795789272497483694, false))
	tmp := final + ".tmp"
	write(t, tmp, traceJSON("renamed", 10)[:40]) // Kineto's temporary, half written
	w.expectNone(t, 300*time.Millisecond)
	write(t, tmp, traceJSON("renamed", 10))
	if err := os.Rename(tmp, final); err != nil {
		t.Fatal(err)
	}
	got := w.mustNext(t)
	if got.Path != final || got.Name.Gzip {
		t.Fatalf("offered %+v, want %s", got, final)
	}
	w.mustDone(t, got)
}

func TestBacklogOldestFirst(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	// Written in a shuffled order; offered by name timestamp, then mtime.
	names := []struct {
		name  string
		stamp int64
		age   time.Duration
	}{
		{"c", 1795789272000000003, time.Hour},
		{"a", 1795789272000000001, time.Hour},
		{"e", 1795789272000000005, time.Hour},
		{"b2", 1795789272000000002, 2 * time.Hour}, // same stamp as b1, older mtime
		{"b1", 1795789272000000002, time.Hour},
		{"d", 1795789272000000004, time.Hour},
	}
	paths := map[string]string{}
	for i, n := range names {
		p := filepath.Join(dir, fmt.Sprintf("%s_dp0_pp0_tp0_dcp0_ep0_rank%d.%d.pt.trace.json.gz", n.name, i, n.stamp))
		write(t, p, testkit.Gzip(t, traceJSON(n.name, 5)))
		age(t, p, n.age)
		paths[p] = n.name
	}
	w := start(t, cfg)
	want := []string{"a", "b2", "b1", "c", "d", "e"}
	// Let the whole backlog be checked, so the order is not the order of
	// verification.
	testkit.WaitFor(t, "backlog ready", 5*time.Second, func() bool { return w.Stats().Ready == len(want) })
	if s := w.Stats(); s.Queue != len(want) || s.OldestWaiting < 2*time.Hour || s.BytesOnDisk == 0 {
		t.Errorf("stats %+v: want %d queued, the oldest waiting 2h, bytes on disk counted", s, len(want))
	}
	for _, n := range want {
		f := w.mustNext(t)
		if paths[f.Path] != n {
			t.Fatalf("got %s (%s), want %s", paths[f.Path], f.Path, n)
		}
		w.mustDone(t, f)
	}
}

func TestRestartOffersNothingDone(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	a := put(t, dir, traceName(0, 1795789272000000001, true), testkit.Gzip(t, traceJSON("a", 50)))
	b := put(t, dir, traceName(1, 1795789272000000002, false), traceJSON("b", 50))
	age(t, a, time.Minute)
	age(t, b, time.Minute)

	w := start(t, cfg)
	for range 2 {
		if err := w.Done(w.mustNext(t)); err != nil {
			t.Fatal(err)
		}
	}
	w.stop(t)

	// Same paths: recognised by path, size and mtime.
	w2 := start(t, cfg)
	w2.expectNone(t, 300*time.Millisecond)
	w2.stop(t)

	// Renamed, and copied (new mtime): recognised by content.
	a2 := filepath.Join(dir, traceName(5, 1795789272000000009, true))
	if err := os.Rename(a, a2); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "sub_"+filepath.Base(b)), data)
	w3 := start(t, cfg)
	w3.expectNone(t, 300*time.Millisecond)

	// Rewritten with new content: a new file.
	write(t, b, traceJSON("b, second take", 50))
	got := w3.mustNext(t)
	if got.Path != b {
		t.Fatalf("offered %s, want the rewritten %s", got.Path, b)
	}
	w3.mustDone(t, got)
}

func TestCrashBeforeDoneOffersAgain(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	p, w, first := offerOne(t, dir, cfg, "crash", 20)
	w.stop(t) // "crash": no Done

	w2 := start(t, cfg)
	again := w2.mustNext(t)
	if again.Path != p || again.Fingerprint != first.Fingerprint {
		t.Fatalf("after restart got %+v, want %s with fingerprint %s", again, p, first.Fingerprint)
	}
	w2.mustDone(t, again)
}

func TestRetryBackoff(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	cfg.RetryBackoff = Backoff{Initial: 150 * time.Millisecond, Max: 300 * time.Millisecond}
	p := put(t, dir, traceName(0, 1795789272000000001, false), traceJSON("retry", 5))
	w := start(t, cfg)
	f := w.mustNext(t)
	backendDown := errors.New("backend unavailable")
	var gaps []time.Duration
	for attempt := 2; attempt <= 4; attempt++ {
		at := time.Now()
		if err := w.Retry(f, backendDown); err != nil {
			t.Fatal(err)
		}
		f = w.mustNext(t)
		gaps = append(gaps, time.Since(at))
		if f.Attempt != attempt {
			t.Fatalf("Attempt = %d, want %d", f.Attempt, attempt)
		}
	}
	// 150ms, 300ms, 300ms (capped): each wait at least its backoff.
	for i, ms := range []int{150, 300, 300} {
		if want := time.Duration(ms) * time.Millisecond; gaps[i] < want {
			t.Errorf("retry %d came after %v, want at least %v", i+1, gaps[i], want)
		}
	}
	if err := w.Retry(File{Path: p}, backendDown); !errors.Is(err, ErrNotInFlight) {
		t.Errorf("Retry of a file not in flight: %v", err)
	}
	w.mustDone(t, f)
	if s := w.Stats(); s.Retried != 3 || s.Exported != 1 {
		t.Errorf("stats %+v, want 3 retries and 1 export", s)
	}
}

func TestRetryTruncatedGivesUp(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	cfg.MaxTruncatedAttempts = 2
	cfg.MaxTruncatedAge = time.Millisecond
	p := put(t, dir, traceName(0, 1795789272000000001, false), traceJSON("cut inside", 5))
	w := start(t, cfg)
	f := w.mustNext(t)
	cut := fmt.Errorf("converter: %w", ErrTruncated)
	if err := w.Retry(f, cut); err != nil {
		t.Fatal(err)
	}
	f = w.mustNext(t)
	if err := w.Retry(f, cut); err != nil {
		t.Fatal(err)
	}
	failed := filepath.Join(dir, "failed", filepath.Base(p))
	testkit.WaitFor(t, "file moved to failed/", 5*time.Second, func() bool { return exists(failed) })
	w.expectNone(t, 300*time.Millisecond)
}

func TestFailedMovesAside(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	p := filepath.Join(dir, traceName(0, 1795789272000000001, true))
	content := testkit.Gzip(t, traceJSON("malformed inside", 5))
	write(t, p, content)
	w := start(t, cfg)
	f := w.mustNext(t)
	if err := w.Failed(f, errors.New("converter: malformed JSON at offset 17")); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(dir, "failed", filepath.Base(p))
	if exists(p) || !exists(moved) {
		t.Fatalf("want %s moved to %s", p, moved)
	}
	recs, err := checkpoint.Load(cfg.StatePath)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Status != checkpoint.StatusFailed || recs[0].Path != moved || !strings.Contains(recs[0].Reason, "offset 17") {
		t.Fatalf("state records %+v, want one failed record at %s with the reason", recs, moved)
	}
	// The same content dropped in again is not offered; new content is.
	write(t, p, content)
	w.expectNone(t, 250*time.Millisecond)
	write(t, p, testkit.Gzip(t, traceJSON("fixed", 5)))
	w.mustOffer(t, p)
	if s := w.Stats(); s.Failed != 1 {
		t.Errorf("stats %+v, want 1 failed", s)
	}
}

func TestWatcherFailsBadFilesItself(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		data   []byte
		tweak  func(*Config)
		reason error
	}{
		{"not gzip", []byte("this is not a gzip stream at all, just text"), nil, ErrCorrupt},
		{"checksum", func() []byte {
			b := testkit.Gzip(t, traceJSON("crc", 5))
			b[len(b)-6] ^= 0xff // the CRC-32 in the trailer
			return b
		}(), nil, ErrCorrupt},
		{"truncated for good", testkit.Gzip(t, traceJSON("cut", 500))[:300], func(c *Config) {
			c.MaxTruncatedAttempts, c.MaxTruncatedAge = 2, time.Millisecond
		}, ErrTruncated},
		{"too large", testkit.Gzip(t, traceJSON("big", 500)), func(c *Config) { c.MaxFileSize = 100 }, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, cfg := newDir(t)
			if tt.tweak != nil {
				tt.tweak(&cfg)
			}
			p := put(t, dir, traceName(0, 1795789272000000001, true), tt.data)
			age(t, p, time.Minute)
			w := start(t, cfg)
			moved := filepath.Join(dir, "failed", filepath.Base(p))
			testkit.WaitFor(t, "file moved to failed/", 5*time.Second, func() bool { return exists(moved) })
			w.expectNone(t, 200*time.Millisecond)
			w.stop(t)
			recs, err := checkpoint.Load(cfg.StatePath)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].Status != checkpoint.StatusFailed || !strings.Contains(recs[0].Reason, tt.reason.Error()) {
				t.Fatalf("records %+v, want one failed record saying %q", recs, tt.reason)
			}
		})
	}
}

// A cut .gz that the consumer keeps handing back is not failed while it is
// younger than MaxTruncatedAge, however often it was retried.
func TestTruncatedWaitsWhileYoung(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testConfig(t, dir) // default MaxTruncatedAge: 10 minutes
	p := filepath.Join(dir, traceName(0, 1795789272000000001, true))
	data := testkit.Gzip(t, traceJSON("paused writer", 500))
	write(t, p, data[:len(data)/2])
	w := start(t, cfg)
	for range cfg.MaxTruncatedAttempts + 1 {
		f := w.mustNext(t)
		if err := w.Retry(f, consumerVerdict(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	if exists(filepath.Join(dir, "failed")) {
		t.Fatal("a young truncated file was failed")
	}
	write(t, p, data)
	got := w.mustNext(t)
	if got.Size != int64(len(data)) {
		t.Fatalf("offered %d bytes, want %d", got.Size, len(data))
	}
	if err := consumerVerdict(t, p); err != nil {
		t.Fatal(err)
	}
}

func TestAfterExport(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{AfterExportKeep, AfterExportDelete, AfterExportMove} {
		t.Run(policy, func(t *testing.T) {
			dir, cfg := newDir(t)
			cfg.AfterExport = policy
			p := put(t, dir, traceName(0, 1795789272000000001, true), testkit.Gzip(t, traceJSON(policy, 5)))
			w := start(t, cfg)
			if err := w.Done(w.mustNext(t)); err != nil {
				t.Fatal(err)
			}
			moved := filepath.Join(dir, "exported", filepath.Base(p))
			want := map[string][2]bool{ // original, moved
				AfterExportKeep: {true, false}, AfterExportDelete: {false, false}, AfterExportMove: {false, true},
			}[policy]
			if exists(p) != want[0] || exists(moved) != want[1] {
				t.Fatalf("after %s: original exists %v, moved exists %v; want %v", policy, exists(p), exists(moved), want)
			}
			w.expectNone(t, 250*time.Millisecond)
		})
	}
}

// perRank puts one .gz trace of 200 events for each of n ranks into dir,
// rank i stamped i ns after the first, and returns their paths and the
// largest file's size.
func perRank(t *testing.T, dir, what string, n int) (paths []string, size int64) {
	t.Helper()
	for i := range n {
		data := testkit.Gzip(t, traceJSON(fmt.Sprint(what, i), 200))
		paths = append(paths, put(t, dir, traceName(i, 1795789272000000001+int64(i), true), data))
		size = max(size, int64(len(data)))
	}
	return paths, size
}

func TestDiskBudget(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	w := start(t, cfg)
	paths, size := perRank(t, dir, "budget", 4)
	// Export the two oldest; the two newest stay unexported.
	for range 2 {
		f := w.mustNext(t)
		w.mustDone(t, f)
	}
	w.stop(t)

	cfg.DiskBudgetBytes = bytesize.ByteSize(3*size + 10) // room for three: delete one exported file
	w2 := start(t, cfg)
	testkit.WaitFor(t, "the oldest exported file deleted", 5*time.Second, func() bool { return !exists(paths[0]) })
	testkit.WaitFor(t, "budget pass", 5*time.Second, func() bool { return w2.Stats().DeletedByBudget == 1 })
	if !exists(paths[1]) || !exists(paths[2]) || !exists(paths[3]) {
		t.Fatal("deleted more than needed")
	}
	w2.stop(t)

	cfg.DiskBudgetBytes = bytesize.ByteSize(size) // room for one: delete the other exported file, never the unexported
	w3 := start(t, cfg)
	testkit.WaitFor(t, "second exported file deleted", 5*time.Second, func() bool { return !exists(paths[1]) })
	testkit.WaitFor(t, "overrun reported", 5*time.Second, func() bool { return w3.Stats().BudgetOverrun > 0 })
	if !exists(paths[2]) || !exists(paths[3]) {
		t.Fatal("an unexported file was deleted")
	}
	// They are still offered.
	for range 2 {
		if err := w3.Done(w3.mustNext(t)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitFor(t, "exported files deleted to fit", 5*time.Second, func() bool { return !exists(paths[2]) && w3.Stats().BudgetOverrun == 0 })
	if !exists(paths[3]) {
		t.Fatal("deleted below the budget")
	}
}

func TestDiskBudgetCountsExportedDir(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	cfg.AfterExport = AfterExportMove
	_, size := perRank(t, dir, "moved", 3)
	cfg.DiskBudgetBytes = bytesize.ByteSize(2*size + 10)
	w := start(t, cfg)
	for range 3 {
		if err := w.Done(w.mustNext(t)); err != nil {
			t.Fatal(err)
		}
	}
	exported := filepath.Join(dir, "exported")
	testkit.WaitFor(t, "oldest moved file deleted", 5*time.Second, func() bool {
		return !exists(filepath.Join(exported, traceName(0, 1795789272000000001, true)))
	})
	if !exists(filepath.Join(exported, traceName(2, 1795789272000000003, true))) {
		t.Fatal("newest exported file deleted")
	}
}

func TestRescanWithoutFsnotify(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	cfg.Notify = false
	w := start(t, cfg)
	time.Sleep(50 * time.Millisecond)
	p := put(t, dir, traceName(0, 1795789272000000001, true), testkit.Gzip(t, traceJSON("polled", 5)))
	w.mustOffer(t, p)
}

func TestMissingDirAppearsLater(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "profiles")
	w := start(t, testConfig(t, dir))
	time.Sleep(200 * time.Millisecond)
	p := put(t, dir, traceName(0, 1795789272000000001, true), testkit.Gzip(t, traceJSON("late dir", 5)))
	w.mustOffer(t, p)
}

func TestUnreadableFile(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	bad := put(t, dir, traceName(0, 1795789272000000001, true), testkit.Gzip(t, traceJSON("no permission", 5)))
	good := put(t, dir, traceName(1, 1795789272000000002, true), testkit.Gzip(t, traceJSON("fine", 5)))
	if err := os.Chmod(bad, 0); err != nil {
		t.Fatal(err)
	}
	denied := true
	w := start(t, cfg, func(w *Watcher) {
		// Root ignores file modes, so the denial is injected as well.
		w.open = func(name string) (*os.File, error) {
			w.mu.Lock()
			deny := denied
			w.mu.Unlock()
			if name == bad && deny {
				return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
			}
			return os.Open(name)
		}
	})
	w.mustOffer(t, good)
	testkit.WaitFor(t, "problem reported", 5*time.Second, func() bool { return w.Stats().Problems == 1 })
	w.expectNone(t, 300*time.Millisecond)

	if err := os.Chmod(bad, 0o644); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	denied = false
	w.mu.Unlock()
	if got := w.mustNext(t); got.Path != bad {
		t.Fatalf("offered %s, want %s once readable", got.Path, bad)
	}
	if s := w.Stats(); s.Problems != 0 {
		t.Errorf("problems %d after the file became readable", s.Problems)
	}
}

func TestSymlinks(t *testing.T) {
	t.Parallel()
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprint("follow=", follow), func(t *testing.T) {
			dir, outside := t.TempDir(), t.TempDir()
			cfg := testConfig(t, dir)
			cfg.FollowSymlinks = follow
			target := filepath.Join(outside, "secret.json")
			write(t, target, traceJSON("outside", 5))
			out := filepath.Join(dir, traceName(0, 1795789272000000001, false))
			if err := os.Symlink(target, out); err != nil {
				t.Fatal(err)
			}
			inTarget := filepath.Join(dir, "real", "x.json")
			write(t, inTarget, traceJSON("inside", 5))
			in := filepath.Join(dir, traceName(1, 1795789272000000002, false))
			if err := os.Symlink(inTarget, in); err != nil {
				t.Fatal(err)
			}
			w := start(t, cfg)
			want := []string{in}
			if follow {
				want = []string{out, in}
			}
			for _, p := range want {
				got := w.mustNext(t)
				if got.Path != p {
					t.Fatalf("offered %s, want %s", got.Path, p)
				}
				w.mustDone(t, got)
			}
			w.expectNone(t, 300*time.Millisecond)
			if !follow && w.Stats().Problems != 1 {
				t.Errorf("problems = %d, want 1 (the symlink out)", w.Stats().Problems)
			}
		})
	}
}

func TestIgnoredNames(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	cfg.Recursive = true
	body := testkit.Gzip(t, traceJSON("ignored", 5))
	for _, p := range []string{
		traceName(0, 1795789272000000001, false) + ".tmp",
		"profiler_out_0.txt",
		"notes.json.gz",
		filepath.Join("capture_traces", traceName(0, 1795789272000000002, true)),
		filepath.Join("exported", traceName(0, 1795789272000000003, true)),
		filepath.Join("failed", traceName(0, 1795789272000000004, true)),
		".vllm-otel-bridge-state.json",
	} {
		write(t, filepath.Join(dir, p), body)
	}
	sub := filepath.Join(dir, "run2", traceName(3, 1795789272000000005, true))
	write(t, sub, testkit.Gzip(t, traceJSON("recursive", 5)))
	w := start(t, cfg)
	w.mustOffer(t, sub)
	// A directory created while running is watched too.
	late := filepath.Join(dir, "run3", "deeper", traceName(4, 1795789272000000006, true))
	write(t, late, testkit.Gzip(t, traceJSON("late", 5)))
	w.mustOffer(t, late)
	w.expectNone(t, 300*time.Millisecond)
}

func TestDoneWithUnwritableState(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	stateDir := filepath.Dir(cfg.StatePath)
	p, w, f := offerOne(t, dir, cfg, "state", 5)
	// A regular file where the state directory should be: not writable,
	// even for root.
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	write(t, stateDir, []byte("not a directory"))
	err := w.Done(f)
	if !errors.Is(err, ErrState) || !strings.Contains(err.Error(), p) {
		t.Fatalf("Done: %v, want ErrState naming the file", err)
	}
	if s := w.Stats(); s.InFlight != 1 || s.Exported != 0 {
		t.Fatalf("stats %+v, want the file still in flight", s)
	}
	w.expectNone(t, 300*time.Millisecond)
	if err := os.Remove(stateDir); err != nil {
		t.Fatal(err)
	}
	if err := w.Done(f); err != nil {
		t.Fatalf("Done once writable: %v", err)
	}
	recs, err := checkpoint.Load(cfg.StatePath)
	if err != nil || len(recs) != 1 || recs[0].Status != checkpoint.StatusExported {
		t.Fatalf("records %+v, %v", recs, err)
	}
}

func TestChangedWhileInFlight(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	cfg.AfterExport = AfterExportDelete
	p, w, f := offerOne(t, dir, cfg, "v1", 5)
	write(t, p, testkit.Gzip(t, traceJSON("v2 is longer than v1", 50)))
	time.Sleep(300 * time.Millisecond) // rescans see the change
	w.mustDone(t, f)
	if !exists(p) {
		t.Fatal("new content deleted by the old file's AfterExport")
	}
	if got := w.mustNext(t); got.Path != p || got.Fingerprint == f.Fingerprint {
		t.Fatalf("offered %+v, want the new content of %s", got, p)
	}
}

// twins writes two .gz files with the same content into dir, a named
// older than b.
func twins(t *testing.T, dir string) (a, b string) {
	t.Helper()
	body := testkit.Gzip(t, traceJSON("twins", 5))
	a = put(t, dir, traceName(0, 1795789272000000001, true), body)
	b = put(t, dir, traceName(0, 1795789272000000002, true), body)
	return a, b
}

func TestDuplicateContentOfferedOnce(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	twins(t, dir)
	w := start(t, cfg)
	f := w.mustNext(t)
	w.expectNone(t, 300*time.Millisecond)
	w.mustDone(t, f)
	w.expectNone(t, 300*time.Millisecond)
}

// TestTwinExportedWhileChecked: a twin whose check (the fingerprint) was
// still running when the first copy was exported must not be offered
// afterwards.
func TestTwinExportedWhileChecked(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	a, b := twins(t, dir)
	release := make(chan struct{})
	var mu sync.Mutex
	opensOfB := 0
	w := start(t, cfg, func(w *Watcher) {
		w.open = func(name string) (*os.File, error) {
			if name == b {
				mu.Lock()
				opensOfB++
				n := opensOfB
				mu.Unlock()
				if n == 1 { // the fingerprint, before the records are looked up
					<-release
				}
			}
			return os.Open(name)
		}
	})
	f := w.mustNext(t)
	if f.Path != a {
		t.Fatalf("offered %s first, want %s", f.Path, a)
	}
	testkit.WaitFor(t, "b's check started", 5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return opensOfB >= 1
	})
	w.mustDone(t, f)
	close(release)
	w.expectNone(t, 300*time.Millisecond)
}

func TestNextAfterStop(t *testing.T) {
	t.Parallel()
	w := start(t, testConfig(t, t.TempDir()))
	w.stop(t)
	if _, err := w.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after stop: %v, want ErrClosed", err)
	}
	if err := w.Run(context.Background()); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Run: %v, want ErrAlreadyRunning", err)
	}
}

func TestRealH100Trace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join("..", "testdata", "h100", "dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.Base(src))
	write(t, p, data)
	w := start(t, testConfig(t, dir))
	f := w.mustNext(t)
	if f.Path != p || f.Name.Era != "dp_rank" || f.Name.ExportTime.IsZero() {
		t.Fatalf("offered %+v", f)
	}
	w.mustDone(t, f)
}

func TestChangedWhileChecked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		act   func(path string) error // done to the file right after the watcher opened it
		moved bool                    // ends in failed/
	}{
		{"deleted", os.Remove, false},
		{"truncated", func(p string) error { return os.Truncate(p, 100) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, cfg := newDir(t)
			cfg.MaxTruncatedAttempts, cfg.MaxTruncatedAge = 2, time.Millisecond
			cfg.Notify = false // no event may tell the watcher; it must look itself
			p := put(t, dir, traceName(0, 1795789272000000001, true), testkit.Gzip(t, traceJSON(tt.name, 2000)))
			age(t, p, time.Minute)
			other := put(t, dir, traceName(1, 1795789272000000002, true), testkit.Gzip(t, traceJSON("bystander", 5)))
			opened := 0
			w := start(t, cfg, func(w *Watcher) {
				w.open = func(name string) (*os.File, error) {
					f, err := os.Open(name)
					if err == nil && name == p {
						opened++
						if opened == 1 { // the check's open, for the fingerprint
							if err := tt.act(name); err != nil {
								t.Error(err)
							}
						}
					}
					return f, err
				}
			})
			got := w.mustNext(t)
			if got.Path != other {
				t.Fatalf("offered %s, want only %s", got.Path, other)
			}
			if tt.moved {
				testkit.WaitFor(t, "cut file failed", 5*time.Second, func() bool { return exists(filepath.Join(dir, "failed", filepath.Base(p))) })
			}
			w.expectNone(t, 300*time.Millisecond)
		})
	}
}

func TestMultipleDirs(t *testing.T) {
	t.Parallel()
	a, b, archive := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "archive")
	cfg := testConfig(t, a)
	cfg.Dirs = []string{a, b}
	cfg.AfterExport, cfg.ExportedDir = AfterExportMove, archive
	pa := filepath.Join(a, traceName(0, 1795789272000000002, true))
	pb := filepath.Join(b, traceName(0, 1795789272000000001, true)) // same base name pattern, older
	write(t, pa, testkit.Gzip(t, traceJSON("dir a", 5)))
	write(t, pb, testkit.Gzip(t, traceJSON("dir b", 5)))
	age(t, pa, time.Minute)
	age(t, pb, time.Minute)
	w := start(t, cfg)
	testkit.WaitFor(t, "both ready", 5*time.Second, func() bool { return w.Stats().Ready == 2 })
	for _, want := range []string{pb, pa} {
		f := w.mustNext(t)
		if f.Path != want {
			t.Fatalf("offered %s, want %s", f.Path, want)
		}
		w.mustDone(t, f)
	}
	for _, p := range []string{pa, pb} {
		if !exists(filepath.Join(archive, filepath.Base(p))) {
			t.Errorf("%s not moved into the shared %s", p, archive)
		}
	}
}

func TestMoveIntoNeverOverwrites(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "exported")
	name := traceName(0, 1795789272000000001, true)
	var got []string
	for i := range 3 {
		p := filepath.Join(src, name)
		write(t, p, []byte(fmt.Sprint("content ", i)))
		moved, err := moveInto(p, dst)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.Base(moved))
	}
	want := []string{name, "dup1~" + name, "dup2~" + name}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("moved to %v, want %v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, name)); string(b) != "content 0" {
		t.Errorf("first file overwritten: %q", b)
	}
	write(t, filepath.Join(src, "blocker"), nil)
	if _, err := moveInto(filepath.Join(src, name+"x"), filepath.Join(src, "blocker", "sub")); err == nil {
		t.Error("moving into a directory under a regular file: want an error")
	}
}

func TestFailedAfterFileVanished(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	p, w, f := offerOne(t, dir, cfg, "vanishing", 5)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Failed(f, fmt.Errorf("open: %w", fs.ErrNotExist)); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(dir, "failed")) {
		t.Error("created failed/ for a file that is gone")
	}
	if s := w.Stats(); s.Failed != 1 || s.InFlight != 0 || s.Queue != 0 {
		t.Errorf("stats %+v", s)
	}
}

// A settled .gz is offered without being inflated to its end; the
// consumer's truncated verdict (Retry) brings it back once it is whole.
func TestGzipCompletenessIsTheConsumers(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	cfg.MaxTruncatedAttempts = 3
	cfg.MaxTruncatedAge = time.Hour // the file is young: never given up here
	p := filepath.Join(dir, traceName(0, 1795789272000000001, true))
	data := testkit.Gzip(t, traceJSON("consumer verifies", 500))
	write(t, p, data[:len(data)/2])
	w := start(t, cfg)
	f := w.mustNext(t) // offered although cut: the watcher did not inflate it
	if f.Size != int64(len(data)/2) {
		t.Fatalf("offered %d bytes, want %d", f.Size, len(data)/2)
	}
	if err := w.Retry(f, fmt.Errorf("converter: %w", ErrTruncated)); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Retried != 1 {
		t.Fatalf("Retried = %d after a truncated Retry, want 1", s.Retried)
	}
	write(t, p, data)
	got := w.mustNext(t)
	if got.Size != int64(len(data)) {
		t.Fatalf("offered %d bytes, want %d", got.Size, len(data))
	}
	w.mustDone(t, got)
	w.expectNone(t, 250*time.Millisecond)
	if exists(filepath.Join(dir, "failed")) {
		t.Fatal("a file that became whole was failed")
	}
}

func TestGzipGarbageFailedByTheWatcher(t *testing.T) {
	t.Parallel()
	dir, cfg := newDir(t)
	p := put(t, dir, traceName(0, 1795789272000000002, true), []byte("this is not gzip at all, only named like a trace"))
	start(t, cfg)
	// The fingerprint reads the gzip header, so garbage is still failed by
	// the watcher itself without reaching the consumer.
	testkit.WaitFor(t, "garbage moved to failed/", 5*time.Second, func() bool { return exists(filepath.Join(dir, "failed", filepath.Base(p))) })
}
