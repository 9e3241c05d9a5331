package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// stopTimeout is how long Stop waits after SIGTERM before it kills.
const stopTimeout = 30 * time.Second

// ProcessOptions say how StartProcess runs a child.
type ProcessOptions struct {
	// Env is the child's whole environment; nil gives it this process's.
	Env []string
	// Credential, when the test runs as root, is the user the child runs
	// as, so that permission bits apply to it (root ignores them). A
	// non-root test already has them applied and cannot change its uid.
	Credential *syscall.Credential
	// SampleRSS samples the child's peak resident set (VmHWM) every 5 ms
	// while it runs, for PeakRSSKB.
	SampleRSS bool
	// LogDir, if set, receives the child's output as <test name>.log when
	// the test ends.
	LogDir string
}

// Process is a child process started by StartProcess. Its stdout and
// stderr go to one buffer; the test's cleanup kills it if it still runs
// and, if the test failed, logs the end of its output.
type Process struct {
	cmd    *exec.Cmd
	out    SyncBuffer
	done   chan struct{}
	err    error // what cmd.Wait returned; read only after done is closed
	peakKB atomic.Int64
}

// StartProcess runs bin with args.
func StartProcess(t testing.TB, bin string, args []string, opts ProcessOptions) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = opts.Env
	if opts.Credential != nil && os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: opts.Credential}
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s %s: %v", bin, strings.Join(args, " "), err)
	}
	if opts.SampleRSS {
		// rusage's Maxrss is no use here: Linux carries the parent's high
		// water mark over fork and exec. VmHWM belongs to the new image.
		go func() {
			for p.Alive() {
				if kb := p.VmHWM(); kb > p.peakKB.Load() {
					p.peakKB.Store(kb)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if opts.LogDir != "" {
			name := strings.ReplaceAll(t.Name(), "/", "_") + ".log"
			if err := os.WriteFile(filepath.Join(opts.LogDir, name), []byte(p.out.String()), 0o644); err != nil {
				t.Errorf("keeping the child's log: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("output of %s %s:\n%s", filepath.Base(bin), strings.Join(args, " "), Tail(p.out.String(), 8000))
		}
	})
	return p
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output is everything the child wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// Done is closed once the child has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Alive reports whether the child has not exited yet.
func (p *Process) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Wait waits for the child to exit and returns what exec.Cmd.Wait did
// (nil for exit status 0).
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Kill sends SIGKILL if the child still runs and waits until it is reaped.
func (p *Process) Kill() {
	if p.Alive() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// Stop sends SIGTERM and waits for the child to exit. It fails t if the
// child had already exited, did not exit within 30 s (it is then killed)
// or exited with anything but status 0: a daemon must shut down cleanly.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	if !p.Alive() {
		t.Fatalf("%s had already exited (%v):\n%s", p.cmd.Path, p.err, Tail(p.out.String(), 4000))
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.Kill()
		t.Fatalf("%s did not stop within %s of SIGTERM; killed", p.cmd.Path, stopTimeout)
	}
	if p.err != nil {
		t.Errorf("%s exited with %v after SIGTERM:\n%s", p.cmd.Path, p.err, Tail(p.out.String(), 4000))
	}
}

// VmHWM reads the running child's peak resident set in KiB from
// /proc/<pid>/status; -1 once it has exited or where it cannot be read.
func (p *Process) VmHWM() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb
		}
	}
	return -1
}

// PeakRSSKB is the highest VmHWM sampled while the child ran (0 unless
// ProcessOptions.SampleRSS was set).
func (p *Process) PeakRSSKB() int64 { return p.peakKB.Load() }
