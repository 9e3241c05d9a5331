package tail

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// sink collects lines on a channel and waits for them with a timeout.
type sink struct{ ch chan string }

func newSink() *sink { return &sink{ch: make(chan string, 1000)} }

func (s *sink) handler(l Line) error {
	t := string(l.Text)
	if l.Truncated {
		t += "…"
	}
	s.ch <- t
	return nil
}

func (s *sink) expect(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	timeout := time.After(5 * time.Second)
	for len(got) < len(want) {
		select {
		case l := <-s.ch:
			got = append(got, l)
		case <-timeout:
			t.Fatalf("timed out: got %q, want %q", got, want)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func (s *sink) expectNothing(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case l := <-s.ch:
		t.Fatalf("unexpected line %q", l)
	case <-time.After(d):
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, path string, opts Options) (*sink, func()) {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = 5 * time.Millisecond
	}
	s := newSink()
	run := testkit.Go(t, "Follow", 5*time.Second, func(ctx context.Context) error { return Follow(ctx, path, opts, s.handler) })
	return s, func() { run.Stop(t) }
}

func TestFollow(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, path string)
	}{
		{"lines and partial line held", func(t *testing.T, path string) {
			appendFile(t, path, "a\nb\r\n")
			s, stop := start(t, path, Options{})
			defer stop()
			s.expect(t, "a", "b")
			appendFile(t, path, "par")
			s.expectNothing(t, 50*time.Millisecond)
			appendFile(t, path, "tial\nc\n")
			s.expect(t, "partial", "c")
		}},
		{"start at end", func(t *testing.T, path string) {
			appendFile(t, path, "old\n")
			s, stop := start(t, path, Options{Start: FromEnd})
			defer stop()
			time.Sleep(30 * time.Millisecond)
			appendFile(t, path, "new\n")
			s.expect(t, "new")
		}},
		{"file created later", func(t *testing.T, path string) {
			s, stop := start(t, path, Options{Start: FromEnd})
			defer stop()
			time.Sleep(30 * time.Millisecond)
			appendFile(t, path, "first\n")
			s.expect(t, "first")
		}},
		{"rotation by rename", func(t *testing.T, path string) {
			appendFile(t, path, "one\n")
			s, stop := start(t, path, Options{})
			defer stop()
			s.expect(t, "one")
			appendFile(t, path, "two\ntail-without-newline")
			time.Sleep(20 * time.Millisecond)
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			appendFile(t, path, "three\n")
			s.expect(t, "two", "tail-without-newline", "three")
		}},
		{"truncation in place", func(t *testing.T, path string) {
			appendFile(t, path, "aaaaaaaaaa\nbbbbbbbbbb\n")
			s, stop := start(t, path, Options{})
			defer stop()
			s.expect(t, "aaaaaaaaaa", "bbbbbbbbbb")
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			appendFile(t, path, "c\n")
			s.expect(t, "c")
		}},
		{"long line truncated", func(t *testing.T, path string) {
			appendFile(t, path, strings.Repeat("x", 100)+"\nok\n")
			s, stop := start(t, path, Options{MaxLineBytes: 10})
			defer stop()
			s.expect(t, "xxxxxxxxxx…", "ok")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, filepath.Join(t.TempDir(), "vllm.log"))
		})
	}
}

func TestFollowHandlerError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	appendFile(t, path, "a\nb\n")
	boom := errors.New("boom")
	err := Follow(context.Background(), path, Options{PollInterval: time.Millisecond}, func(l Line) error {
		if string(l.Text) == "b" {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	err = Follow(context.Background(), path, Options{PollInterval: time.Millisecond}, func(Line) error { return ErrStopped })
	if err != nil {
		t.Fatalf("ErrStopped: %v", err)
	}
}

func TestFollowAllAndIdle(t *testing.T) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")}
	appendFile(t, paths[0], "a1\na2\n")
	appendFile(t, paths[1], "b1\n")
	var mu sync.Mutex
	got := map[string][]string{}
	idle := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- FollowAll(ctx, paths, Options{PollInterval: 2 * time.Millisecond, OnIdle: func(time.Time) {
			select {
			case idle <- struct{}{}:
			default:
			}
		}}, func(p string, l Line) error {
			mu.Lock()
			got[filepath.Base(p)] = append(got[filepath.Base(p)], string(l.Text))
			mu.Unlock()
			return nil
		})
	}()
	deadline := time.After(5 * time.Second)
	for {
		mu.Lock()
		ok := len(got["a.log"]) == 2 && len(got["b.log"]) == 1
		mu.Unlock()
		if ok {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("got %v", got)
		case <-time.After(2 * time.Millisecond):
		}
	}
	select {
	case <-idle:
	case <-deadline:
		t.Fatal("OnIdle never called")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, map[string][]string{"a.log": {"a1", "a2"}, "b.log": {"b1"}}) {
		t.Fatalf("got %v", got)
	}
}
