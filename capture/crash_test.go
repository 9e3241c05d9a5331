package capture

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv makes the test binary a bridge that starts a capture and
// waits to be killed (see TestKill9MidCaptureNextStartStopsFirst).
const crashChildEnv = "CAPTURE_CRASH_CHILD"

// crashChild runs in the child process: a controller with the real clock
// and an hour-long on-demand capture.
func crashChild() int {
	cfg := DefaultConfig()
	cfg.VLLMURL = os.Getenv("CAPTURE_CRASH_VLLM")
	cfg.StateFile = os.Getenv("CAPTURE_CRASH_STATE")
	cfg.MaxDuration = 2 * time.Hour
	c, err := New(cfg, Options{ProfilerDirs: []string{os.Getenv("CAPTURE_CRASH_DIR")}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	go func() { _ = c.Run(context.Background()) }()
	if _, err := c.Request(context.Background(), time.Hour); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	select {} // until SIGKILL
}

// kill -9 of the bridge while vLLM profiles: the next bridge's first act
// is /stop_profile, the capture is recorded as recovered, and the trace
// file that stop produced is attributed to the killed capture.
func TestKill9MidCaptureNextStartStopsFirst(t *testing.T) {
	clk := newFakeClock()
	clk.now = time.Now().Truncate(time.Second) // the child runs on the real clock
	sv := newStandin(t, clk)
	state := t.TempDir() + "/capture-state.json"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", "CAPTURE_CRASH_VLLM="+sv.URL(), "CAPTURE_CRASH_STATE="+state, "CAPTURE_CRASH_DIR="+sv.dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sv.onStart:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("child bridge never sent /start_profile")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	if !sv.profiling() {
		t.Fatal("stand-in vLLM not profiling after the kill")
	}
	doc, err := stateStore{path: state}.load()
	if err != nil || doc.InFlight == nil {
		t.Fatalf("state file after kill -9 records no capture in flight: %+v, %v", doc, err)
	}
	killed := doc.InFlight.ID

	h := newHarness(t, sv, func(c *Config, _ *Options) { c.StateFile = state })
	h.run()
	if calls := sv.callList(); !slices.Equal(calls, []string{"start", "stop"}) {
		t.Fatalf("vLLM calls %v, want the child's start and then our stop", calls)
	}
	if sv.profiling() {
		t.Fatal("still profiling after the restarted bridge ran")
	}
	h.advance(h.cfg.FileGrace)
	cp := h.get(killed)
	if !cp.Recovered || cp.State != StateDone || len(cp.Files) != 1 {
		t.Fatalf("recovered capture %+v", cp)
	}
	if got := h.ctrl.ResourceAttributes(cp.Files[0])[AttrCaptureID]; got != killed {
		t.Fatalf("file attributed to %q, want %q", got, killed)
	}
	if got := counter(t, h.ctrl, TriggerOnDemand, "recovered"); got != 1 {
		t.Fatalf("captures_total{on_demand,recovered} = %v", got)
	}
	if doc, _ := h.ctrl.store.load(); doc.InFlight != nil {
		t.Fatal("state file still records the capture in flight")
	}
	// and, after the cool-down, a new capture works normally
	h.advance(h.cfg.Cooldown)
	if _, err := h.request(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !sv.profiling() {
		t.Fatal("new capture did not start")
	}
}
