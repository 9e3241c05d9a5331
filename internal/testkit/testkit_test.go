package testkit

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher/checkpoint"
)

func TestMain(m *testing.M) { os.Exit(RunTests(m)) }

// blockedForTest is a goroutine body whose name findLeaks must report.
func blockedForTest(release chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	<-release
}

// startBlocked starts blockedForTest and returns what ends it and waits
// for it to end.
func startBlocked() (release func()) {
	ch := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go blockedForTest(ch, &wg)
	return func() { close(ch); wg.Wait() }
}

func TestFindLeaksReportsALiveGoroutineAndForgetsItOnceEnded(t *testing.T) {
	base := goleak.IgnoreCurrent()
	release := startBlocked()
	err := findLeaks(300*time.Millisecond, base)
	if err == nil || !strings.Contains(err.Error(), "blockedForTest") {
		t.Fatalf("findLeaks with a blocked goroutine = %v, want an error naming blockedForTest", err)
	}
	release()
	if err := findLeaks(time.Second, base); err != nil {
		t.Fatalf("findLeaks after the goroutine ended: %v", err)
	}
}

func TestFindLeaksWaitsForAGoroutineThatIsEnding(t *testing.T) {
	base := goleak.IgnoreCurrent()
	release := startBlocked()
	ended := make(chan struct{})
	time.AfterFunc(1500*time.Millisecond, func() { release(); close(ended) })
	start := time.Now()
	if err := findLeaks(leakWait, base); err != nil {
		t.Fatalf("a goroutine ending after 1.5 s was reported: %v", err)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("findLeaks returned after %v, before the goroutine could have ended", d)
	}
	<-ended
}

// fakeTB records Fatalf and Errorf instead of failing the real test.
type fakeTB struct {
	testing.TB
	mu    sync.Mutex
	fatal string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
}

// runFake runs fn with a fakeTB on its own goroutine (Fatalf ends it) and
// returns the Fatalf (or last Errorf) message, "" if fn reported nothing.
func runFake(t *testing.T, fn func(tb testing.TB)) string {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); fn(f) }()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal
}

func TestWaitFor(t *testing.T) {
	n := 0
	if msg := runFake(t, func(tb testing.TB) {
		WaitFor(tb, "the third call", time.Second, func() bool { n++; return n == 3 })
	}); msg != "" || n != 3 {
		t.Fatalf("a condition true on the third call: fatal %q after %d calls", msg, n)
	}
	start := time.Now()
	msg := runFake(t, func(tb testing.TB) { WaitFor(tb, "never", 100*time.Millisecond, func() bool { return false }) })
	if !strings.HasPrefix(msg, "timed out after") {
		t.Fatalf("a condition never true: fatal %q, want a time-out", msg)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("gave up after %v, before the 100 ms timeout", d)
	}
}

func TestFreeAddrIsLoopbackAndFree(t *testing.T) {
	addr := FreeAddr(t)
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("FreeAddr = %q (%v), want 127.0.0.1:port", addr, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on FreeAddr's %s: %v", addr, err)
	}
	l.Close()
}

func TestGzipRoundTrip(t *testing.T) {
	in := bytes.Repeat([]byte("kineto "), 1000)
	zr, err := gzip.NewReader(bytes.NewReader(Gzip(t, in)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(out, in) {
		t.Fatalf("gunzip(Gzip(x)) = %d bytes (%v), want the %d input bytes", len(out), err, len(in))
	}
}

// TestGunzip inflates what gzip(1) would write: a stream of two members
// written by compress/gzip itself, not by Gzip.
func TestGunzip(t *testing.T) {
	var two bytes.Buffer
	for _, part := range []string{"kineto ", "trace"} {
		zw := gzip.NewWriter(&two)
		if _, err := zw.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := Gunzip(t, two.Bytes()); string(got) != "kineto trace" {
		t.Errorf("Gunzip = %q, want %q", got, "kineto trace")
	}
}

func TestPlaceFileLeavesOnlyTheFile(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "a.pt.trace.json")
	PlaceFile(t, dst, []byte("{}"))
	if got := ReadFile(t, dst); string(got) != "{}" {
		t.Fatalf("placed file holds %q", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory after PlaceFile: %v (%v), want only the file", entries, err)
	}
}

func TestTail(t *testing.T) {
	if got := Tail("abc", 5); got != "abc" {
		t.Errorf("Tail of a shorter string = %q, want it whole", got)
	}
	if got := Tail("abc", 3); got != "abc" {
		t.Errorf("Tail of a string of exactly n bytes = %q, want it whole", got)
	}
	if got := Tail("abcdef", 2); got != "…ef" {
		t.Errorf("Tail(\"abcdef\", 2) = %q, want the last 2 bytes marked as cut", got)
	}
}

func TestDaemonArgsLetExtraFlagsComeLast(t *testing.T) {
	args := DaemonArgs("/p", "/s.json", "127.0.0.1:1", "--settle-time", "1s")
	if args[0] != "run" {
		t.Fatalf("args start with %q, want the run command", args[0])
	}
	joined := " " + strings.Join(args, " ") + " "
	for _, want := range []string{" --profiler-dir /p ", " --state-file /s.json ", " --endpoint 127.0.0.1:1 ", " --metrics-addr  "} {
		if !strings.Contains(joined, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if got := args[len(args)-2:]; got[0] != "--settle-time" || got[1] != "1s" {
		t.Errorf("args end with %q, want the extra flags", got)
	}
}

func shell(t *testing.T) string {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh: %v", err)
	}
	return sh
}

func TestProcessStopsCleanlyOnSIGTERM(t *testing.T) {
	p := StartProcess(t, shell(t), []string{"-c", `trap 'echo bye; exit 0' TERM; echo hello; while :; do sleep 0.05; done`}, ProcessOptions{SampleRSS: true})
	WaitFor(t, "the child's greeting", 10*time.Second, func() bool { return strings.Contains(p.Output(), "hello") })
	if !p.Alive() || p.Pid() <= 0 {
		t.Fatalf("child not alive (pid %d)", p.Pid())
	}
	WaitFor(t, "an RSS sample", 10*time.Second, func() bool { return p.PeakRSSKB() > 0 })
	p.Stop(t)
	if p.Alive() || p.Wait() != nil || !strings.Contains(p.Output(), "bye") {
		t.Fatalf("after Stop: alive %v, exit %v, output %q", p.Alive(), p.Wait(), p.Output())
	}
}

func TestProcessReportsExitStatusAndKill(t *testing.T) {
	p := StartProcess(t, shell(t), []string{"-c", "exit 3"}, ProcessOptions{Env: []string{}})
	var ee *exec.ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("Wait of exit 3 = %v", err)
	}
	if p.VmHWM() != -1 {
		t.Errorf("VmHWM of an exited child = %d, want -1", p.VmHWM())
	}
	q := StartProcess(t, shell(t), []string{"-c", "sleep 30"}, ProcessOptions{})
	q.Kill()
	if q.Alive() || q.Wait() == nil {
		t.Fatalf("after Kill: alive %v, exit %v, want dead by a signal", q.Alive(), q.Wait())
	}
}

func TestProcessKeepsItsLogInLogDir(t *testing.T) {
	dir := t.TempDir()
	t.Run("child", func(t *testing.T) {
		p := StartProcess(t, shell(t), []string{"-c", "echo kept"}, ProcessOptions{LogDir: dir})
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	})
	if b := ReadFile(t, filepath.Join(dir, "TestProcessKeepsItsLogInLogDir_child.log")); string(b) != "kept\n" {
		t.Fatalf("kept log = %q", b)
	}
}

func TestPKIServesTLSToItsOwnClientsOnly(t *testing.T) {
	p, other := NewPKI(t), NewPKI(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", p.ServerTLS(true))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// The handshake's verdict is the client's to see; then hang up.
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	dial := func(roots *x509.CertPool, cert *tls.Certificate) error {
		cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		c, err := tls.Dial("tcp", l.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		// TLS 1.3 reports a rejected client certificate on the first read.
		_, err = c.Read(make([]byte, 1))
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if err := dial(p.CAPool, &p.Client); err != nil {
		t.Errorf("own client with own CA: %v", err)
	}
	if err := dial(other.CAPool, &p.Client); err == nil {
		t.Error("a client trusting another CA accepted the server")
	}
	if err := dial(p.CAPool, &other.Client); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	if err := dial(p.CAPool, nil); err == nil {
		t.Error("no client certificate was accepted under mTLS")
	}
	for _, f := range []string{p.CAFile, p.ServerCertFile, p.ServerKeyFile, p.ClientCertFile, p.ClientKeyFile} {
		if b := ReadFile(t, f); !bytes.HasPrefix(b, []byte("-----BEGIN ")) {
			t.Errorf("%s is not PEM", f)
		}
	}
}

func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.golden")
	if msg := runFake(t, func(tb testing.TB) { Golden(tb, path, []byte("a\n"), false) }); !strings.Contains(msg, "-update to create it") {
		t.Fatalf("a missing golden file: fatal %q", msg)
	}
	Golden(t, path, []byte("a\nb\nc\n"), true)
	if got := ReadFile(t, path); string(got) != "a\nb\nc\n" {
		t.Fatalf("-update wrote %q", got)
	}
	Golden(t, path, []byte("a\nb\nc\n"), false)
	if msg := runFake(t, func(tb testing.TB) { Golden(tb, path, []byte("a\nB\nc\n"), false) }); !strings.Contains(msg, "at line 2") {
		t.Fatalf("a changed line: reported %q, want its line number", msg)
	}
	line, g, w := firstDiff([]byte("a\nB\nc\n"), []byte("a\nb\nc\n"))
	if line != 2 || g != "B" || w != "b" {
		t.Errorf("firstDiff of a changed line = %d %q %q, want 2 \"B\" \"b\"", line, g, w)
	}
	if line, g, w := firstDiff([]byte("a\nb"), []byte("a\nb\nc")); line != 3 || g != "" || w != "c" {
		t.Errorf("firstDiff of a shorter output = %d %q %q, want 3 \"\" \"c\"", line, g, w)
	}
}

func TestGoStopsOnceAndReportsWhatFnReturned(t *testing.T) {
	calls := 0
	b := Go(t, "clean", time.Second, func(ctx context.Context) error { calls++; <-ctx.Done(); return nil })
	b.Stop(t)
	b.Stop(t)
	if calls != 1 {
		t.Fatalf("fn ran %d times", calls)
	}
	if msg := runFake(t, func(tb testing.TB) {
		Go(tb, "failing", time.Second, func(ctx context.Context) error { <-ctx.Done(); return errors.New("boom") }).Stop(tb)
	}); msg != "failing returned boom" {
		t.Errorf("a failing fn: reported %q", msg)
	}
	release := make(chan struct{})
	defer close(release)
	if msg := runFake(t, func(tb testing.TB) {
		Go(tb, "stuck", 50*time.Millisecond, func(context.Context) error { <-release; return nil }).Stop(tb)
	}); !strings.HasPrefix(msg, "stuck did not return within 50ms") {
		t.Errorf("a stuck fn: reported %q", msg)
	}
}

// TestStateRecordsReadsWhatTheDaemonSaves: the records come from a file
// written by the daemon's own checkpoint.Save, so a change of its format
// shows here rather than as a hung WaitFor in the daemon tests.
func TestStateRecordsReadsWhatTheDaemonSaves(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if got := StateRecords(t, path); got != nil {
		t.Fatalf("before the first save: %v, want nil", got)
	}
	recs := []checkpoint.Record{
		{Fingerprint: "a", Path: "/prof/one.pt.trace.json.gz", Status: checkpoint.StatusExported},
		{Fingerprint: "b", Path: "/prof/sub/two.pt.trace.json.gz", Status: checkpoint.StatusFailed, Reason: "bad"},
	}
	if err := checkpoint.Save(path, recs, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	got := StateRecords(t, path)
	want := map[string]string{"one.pt.trace.json.gz": "exported", "two.pt.trace.json.gz": "failed"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
