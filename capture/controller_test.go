package capture

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("not a counter or gauge: %v", &d)
	return 0
}

func counter(t *testing.T, c *Controller, trigger, outcome string) float64 {
	t.Helper()
	return value(t, c.m.captures.WithLabelValues(trigger, outcome))
}

func traceFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for p := range listTraceFiles([]string{dir}) {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// A schedule of 10m captures of 30s, over three cycles: each cycle starts
// and stops vLLM's profiler once, its trace file is attributed to it, and
// the state file is clear between captures.
func TestScheduleSeveralCycles(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	h := newHarness(t, sv, func(c *Config, _ *Options) {
		c.Every = 10 * time.Minute
		c.Duration = 30 * time.Second
		c.Cooldown = time.Minute
	})
	t0 := h.clk.Now()
	h.run()
	var ids []string
	for cycle := 1; cycle <= 3; cycle++ {
		h.advance(t0.Add(time.Duration(cycle) * 10 * time.Minute).Sub(h.clk.Now()))
		if !sv.profiling() {
			t.Fatalf("cycle %d: vLLM not profiling after the scheduled start; calls %v", cycle, sv.callList())
		}
		cur := h.ctrl.List()[0]
		if cur.State != StateRunning || cur.Trigger != TriggerSchedule || cur.Reason != "schedule" {
			t.Fatalf("cycle %d: current capture %+v", cycle, cur)
		}
		ids = append(ids, cur.ID)
		if doc, err := h.ctrl.store.load(); err != nil || doc.InFlight == nil || doc.InFlight.ID != cur.ID {
			t.Fatalf("cycle %d: state file does not record the capture in flight: %+v %v", cycle, doc.InFlight, err)
		}
		h.advance(30 * time.Second) // the stop
		if sv.profiling() {
			t.Fatalf("cycle %d: still profiling after duration", cycle)
		}
		h.advance(h.cfg.FileGrace)
		got := h.get(cur.ID)
		if got.State != StateDone || len(got.Files) != 1 {
			t.Fatalf("cycle %d: capture after grace %+v", cycle, got)
		}
		if ran := got.Stopped.Sub(got.Started); ran != 30*time.Second {
			t.Errorf("cycle %d: ran %s, want 30s", cycle, ran)
		}
		attrs := h.ctrl.ResourceAttributes(got.Files[0])
		if attrs[AttrCaptureID] != cur.ID || attrs[AttrTrigger] != "schedule" {
			t.Errorf("cycle %d: attributes %v", cycle, attrs)
		}
		if doc, _ := h.ctrl.store.load(); doc.InFlight != nil {
			t.Errorf("cycle %d: state file still records a capture in flight", cycle)
		}
	}
	if want := []string{"start", "stop", "start", "stop", "start", "stop"}; !reflect.DeepEqual(sv.callList(), want) {
		t.Fatalf("vLLM calls %v, want %v", sv.callList(), want)
	}
	if n := len(traceFiles(t, sv.dir)); n != 3 {
		t.Fatalf("%d trace files, want 3", n)
	}
	if got := counter(t, h.ctrl, "schedule", "ok"); got != 3 {
		t.Errorf("captures_total{schedule,ok} = %v, want 3", got)
	}
	if value(t, h.ctrl.m.inFlight) != 0 {
		t.Error("capture_in_flight not 0 between captures")
	}
	if len(slices.Compact(slices.Clone(ids))) != 3 {
		t.Errorf("capture ids not unique: %v", ids)
	}
}

// A p99 TTFT spike fires the trigger, with the measured value in the
// reason and the attributes; traffic below the threshold never fires; the
// quantile comes from deltas (a slow history before the window does not
// count) and a vLLM restart (counters reset) is a new baseline, not a
// negative delta.
func TestTriggerFiresOnSpikeOnlyAboveThreshold(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	h := newHarness(t, sv, func(c *Config, _ *Options) {
		c.PollInterval = 15 * time.Second
		c.Cooldown = time.Minute
		c.Triggers = []Trigger{{Metric: "vllm:time_to_first_token_seconds", Quantile: 0.99, Above: 2, Window: time.Minute, MinCount: 50}}
	})
	// a long slow history since vLLM started: a totals-based p99 would be
	// ~5 s and fire at once
	sv.observe(4.0, 1.5, 10000)
	h.run() // first scrape: the baseline
	for i := range 8 {
		sv.observe(0.05, 1.0, 100) // healthy: p99 of the window ≈ 0.06 s
		h.advance(15 * time.Second)
		if sv.profiling() {
			t.Fatalf("poll %d: fired below the threshold; calls %v", i, sv.callList())
		}
	}
	if v := value(t, h.ctrl.m.triggerValue.WithLabelValues("p99_time_to_first_token_seconds")); !(v > 0.04 && v < 0.1) {
		t.Fatalf("measured p99 %v, want within the 0.04-0.06 bucket", v)
	}
	// the spike: 5% of requests take 2.5-5 s → p99 in (2.5, 5]
	sv.observe(0.05, 1.0, 95)
	sv.observe(3.0, 4.0, 5)
	h.advance(15 * time.Second)
	if !sv.profiling() {
		t.Fatalf("spike did not fire; calls %v", sv.callList())
	}
	cur := h.ctrl.List()[0]
	if cur.Trigger != "p99_time_to_first_token_seconds" || cur.Value == nil || *cur.Value <= 2.5 || *cur.Value > 5 {
		t.Fatalf("capture %+v", cur)
	}
	if !strings.Contains(cur.Reason, "p99(vllm:time_to_first_token_seconds)=") || !strings.Contains(cur.Reason, "> 2 over 1m0s") {
		t.Fatalf("reason %q", cur.Reason)
	}
	h.advance(h.cfg.Duration)
	h.advance(h.cfg.FileGrace)
	done := h.get(cur.ID)
	if done.State != StateDone || len(done.Files) != 1 {
		t.Fatalf("after capture: %+v", done)
	}
	attrs := h.ctrl.ResourceAttributes(done.Files[0])
	if attrs[AttrTrigger] != cur.Reason || attrs[AttrTriggerName] != cur.Trigger || attrs[AttrTriggerValue] == "" {
		t.Fatalf("attributes %v", attrs)
	}

	// vLLM restarts: counters go to zero, then healthy traffic; the reset
	// must neither fire nor break the trigger.
	h.advance(h.cfg.Cooldown)
	sv.down()
	sv.up()
	sv.observe(0.05, 1.0, 200)
	for range 6 {
		h.advance(15 * time.Second)
		if sv.profiling() {
			t.Fatalf("fired after the restart on healthy traffic; calls %v", sv.callList())
		}
	}
	if value(t, h.ctrl.m.resets) == 0 {
		t.Fatal("counter reset not counted")
	}
	sv.observe(6.0, 8.0, 50)
	h.advance(15 * time.Second)
	if !sv.profiling() {
		t.Fatal("trigger dead after the restart")
	}
}

// The disk budget refuses a start: no /start_profile is sent, the refusal
// is counted, on-demand callers get a RefusedError.
func TestDiskBudgetRefusesStart(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	short := true
	h := newHarness(t, sv, func(c *Config, o *Options) {
		c.Every = 10 * time.Minute
		o.Precondition = func(context.Context) error {
			if short {
				return fmt.Errorf("profiler dir holds 9.5 GiB of a 10 GiB budget: %w", ErrDiskBudget)
			}
			return nil
		}
	})
	h.run()
	h.advance(10 * time.Minute)
	_, err := h.ctrl.Request(context.Background(), 0)
	var ref *RefusedError
	if !errors.As(err, &ref) || ref.Reason != RefusedDiskBudget || !errors.Is(err, ErrDiskBudget) {
		t.Fatalf("Request: %v, want a disk_budget refusal", err)
	}
	if calls := sv.callList(); len(calls) != 0 {
		t.Fatalf("vLLM was called: %v", calls)
	}
	if counter(t, h.ctrl, "schedule", "refused_disk_budget") != 1 || counter(t, h.ctrl, "on_demand", "refused_disk_budget") != 1 {
		t.Fatal("refusals not counted")
	}
	short = false // only read by the loop goroutine, which is idle now
	h.advance(10 * time.Minute)
	if !sv.profiling() {
		t.Fatal("schedule did not start once the budget allowed it")
	}
}

// One at a time, cool-down and max per hour.
func TestOneAtATimeCooldownAndHourlyLimit(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	h := newHarness(t, sv, func(c *Config, _ *Options) {
		c.Cooldown = 2 * time.Minute
		c.MaxPerHour = 2
	})
	h.run()
	first, err := h.request(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ref *RefusedError
	if _, err := h.ctrl.Request(context.Background(), 0); !errors.As(err, &ref) || ref.Reason != RefusedBusy {
		t.Fatalf("second concurrent request: %v, want busy", err)
	}
	h.advance(20 * time.Second)
	h.advance(h.cfg.FileGrace)
	if got := h.get(first.ID); got.State != StateDone {
		t.Fatalf("first capture %+v", got)
	}
	if _, err := h.ctrl.Request(context.Background(), 0); !errors.As(err, &ref) || ref.Reason != RefusedCooldown || ref.RetryAfter != 2*time.Minute-h.cfg.FileGrace {
		t.Fatalf("request in cool-down: %v (retry after %v)", err, ref)
	}
	h.advance(2 * time.Minute)
	if _, err := h.request(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	h.advance(10 * time.Second)
	h.advance(h.cfg.FileGrace)
	h.advance(2 * time.Minute)
	if _, err := h.ctrl.Request(context.Background(), 0); !errors.As(err, &ref) || ref.Reason != RefusedRateLimit || ref.RetryAfter <= 0 {
		t.Fatalf("third request within the hour: %v, want rate_limit", err)
	}
	if _, err := h.ctrl.Request(context.Background(), time.Hour); err == nil || !strings.Contains(err.Error(), "max_duration") {
		t.Fatalf("an hour-long capture: %v, want a max_duration error", err)
	}
	h.advance(time.Hour)
	if _, err := h.request(0); err != nil {
		t.Fatalf("after an hour: %v", err)
	}
	if n := strings.Count(strings.Join(sv.callList(), ","), "start"); n != 3 {
		t.Fatalf("%d starts, want 3: %v", n, sv.callList())
	}
}

// SIGTERM (context cancelled) mid-capture stops vLLM's profiler before Run
// returns, and the state file is clear.
func TestShutdownStopsCapture(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	h := newHarness(t, sv, nil)
	h.run()
	cp, err := h.request(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !sv.profiling() {
		t.Fatal("not profiling")
	}
	h.advance(10 * time.Second)
	h.shutdown()
	if sv.profiling() {
		t.Fatal("profiler left on after shutdown")
	}
	got, _ := h.ctrl.Get(cp.ID)
	if len(got.Files) != 1 || got.State != StateDone {
		t.Fatalf("capture after shutdown %+v", got)
	}
	if counter(t, h.ctrl, TriggerOnDemand, "aborted") != 1 {
		t.Fatal("early stop not counted as aborted")
	}
	if doc, _ := h.ctrl.store.load(); doc.InFlight != nil {
		t.Fatal("state file records a capture in flight after a clean stop")
	}
}

// 500s on stop are retried with backoff; vLLM restarting mid-capture
// (connection refused, then a fresh process) ends with the stop confirmed
// and never a crash loop; a stop that keeps failing is retried before the
// next start.
func TestStopRetriesAndVLLMRestartMidCapture(t *testing.T) {
	t.Run("500s", func(t *testing.T) {
		sv := newStandin(t, newFakeClock())
		h := newHarness(t, sv, func(c *Config, _ *Options) { c.StopAttempts = 4; c.StopBackoff = time.Second })
		h.run()
		cp, err := h.request(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		sv.set(func(s *standin) { s.failStop = 2 })
		h.advance(10 * time.Second)
		if sv.profiling() {
			t.Fatalf("still profiling; calls %v", sv.callList())
		}
		if want := []string{"start", "stop(500)", "stop(500)", "stop"}; !slices.Equal(sv.callList(), want) {
			t.Fatalf("calls %v, want %v", sv.callList(), want)
		}
		if !slices.Equal(h.sleeps, []time.Duration{time.Second, 2 * time.Second}) {
			t.Fatalf("backoff %v", h.sleeps)
		}
		h.advance(h.cfg.FileGrace)
		if got := h.get(cp.ID); got.State != StateDone || counter(t, h.ctrl, TriggerOnDemand, "ok") != 1 {
			t.Fatalf("capture %+v", got)
		}
		if value(t, h.ctrl.m.vllmErrors.WithLabelValues("stop_profile", "server_error")) != 2 {
			t.Fatal("stop errors not counted")
		}
	})
	t.Run("restart", func(t *testing.T) {
		sv := newStandin(t, newFakeClock())
		h := newHarness(t, sv, func(c *Config, _ *Options) { c.StopAttempts = 2; c.Cooldown = 0 })
		h.run()
		cp, err := h.request(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		sv.down() // vLLM dies mid-capture
		h.advance(10 * time.Second)
		got := h.get(cp.ID)
		if got.State != StateFlushing || !strings.Contains(got.Error, "unreachable") {
			t.Fatalf("after failed stops: %+v", got)
		}
		if value(t, h.ctrl.m.inFlight) != 1 {
			t.Fatal("capture_in_flight must stay 1 while the stop is unconfirmed")
		}
		if doc, _ := h.ctrl.store.load(); doc.InFlight == nil || doc.InFlight.ID != cp.ID {
			t.Fatal("state file lost the unconfirmed capture")
		}
		h.advance(h.cfg.FileGrace)
		if got := h.get(cp.ID); got.State != StateFailed || counter(t, h.ctrl, TriggerOnDemand, "stop_failed") != 1 {
			t.Fatalf("capture %+v", got)
		}
		// still down: an on-demand start first retries the stop, fails, and
		// does not start
		next, err := h.request(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.get(next.ID); got.State != StateFailed || !strings.Contains(got.Error, "could not be stopped first") {
			t.Fatalf("start while the old stop is unconfirmed: %+v", got)
		}
		sv.up() // a fresh vLLM process
		h.advance(time.Minute)
		if doc, _ := h.ctrl.store.load(); doc.InFlight != nil {
			t.Fatalf("state file still records %s after vLLM came back", doc.InFlight.ID)
		}
		if value(t, h.ctrl.m.inFlight) != 0 {
			t.Fatal("capture_in_flight not cleared")
		}
		if _, err := h.request(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		if !sv.profiling() {
			t.Fatalf("no capture after recovery; calls %v", sv.callList())
		}
	})
}

// vLLM errors on start: 401 without the key, 404 without the profiler,
// 500 (followed by a safety stop); none crashes the loop, each is counted,
// and the key works from a file.
func TestStartErrors(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	sv.apiKey = "s3cr3t-vllm-key"
	keyFile := filepath.Join(t.TempDir(), "key")
	logger, logs := capturedLogger()
	h := newHarness(t, sv, func(c *Config, o *Options) { c.Cooldown = 0; o.Logger = logger })
	h.run()
	try := func(want string) Capture {
		t.Helper()
		cp, err := h.request(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got := h.get(cp.ID)
		if want == "" {
			if got.State != StateRunning {
				t.Fatalf("capture %+v, want running", got)
			}
			h.advance(5 * time.Second)
			h.advance(h.cfg.FileGrace)
			return got
		}
		if got.State != StateFailed || !strings.Contains(got.Error, want) {
			t.Fatalf("capture %+v, want failed with %q", got, want)
		}
		if strings.Contains(got.Error, sv.apiKey) {
			t.Fatal("error shows the API key")
		}
		return got
	}
	try("401")
	if err := os.WriteFile(keyFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.ctrl.api.(*Client).key.file = keyFile // the loop is idle
	try("refused the API key")
	if err := os.WriteFile(keyFile, []byte(sv.apiKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	try("") // a rotated key file is read again
	sv.set(func(s *standin) { s.noProfiler = true })
	try("--profiler-config")
	sv.set(func(s *standin) { s.noProfiler = false; s.failStart = 1 })
	try("server error")
	if calls := sv.callList(); calls[len(calls)-1] != "stop" {
		t.Fatalf("a 500 on start must be followed by a stop: %v", calls)
	}
	for kind, n := range map[string]float64{"unauthorized": 2, "no_profiler": 1, "server_error": 1} {
		if got := value(t, h.ctrl.m.vllmErrors.WithLabelValues("start_profile", kind)); got != n {
			t.Errorf("start_profile errors %s = %v, want %v", kind, got, n)
		}
	}
	if counter(t, h.ctrl, TriggerOnDemand, "start_failed") != 4 {
		t.Error("start failures not counted")
	}
	if !strings.Contains(logs(), "refused the API key") {
		t.Error("the 401 is not logged clearly")
	}
	if strings.Contains(logs(), sv.apiKey) {
		t.Error("the API key was logged")
	}
}

// Steps mode: vLLM stops itself after max_iterations; the bridge sees the
// trace appear and settle, then sends /stop_profile so that vLLM accepts
// the next start.
func TestStepsModeWaitsForVLLMToStopItself(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	h := newHarness(t, sv, func(c *Config, _ *Options) {
		c.Steps = 50
		c.Every = 10 * time.Minute
		c.PollInterval = 5 * time.Second
		c.Cooldown = 0
	})
	h.run()
	h.advance(10 * time.Minute)
	if !sv.profiling() {
		t.Fatal("not started")
	}
	cur := h.ctrl.List()[0]
	if cur.Steps != 50 || cur.Duration != 0 {
		t.Fatalf("capture %+v", cur)
	}
	h.advance(5 * time.Second)
	if calls := sv.callList(); !slices.Equal(calls, []string{"start"}) {
		t.Fatalf("stopped before vLLM wrote the trace: %v", calls)
	}
	sv.selfStop()
	h.advance(5 * time.Second) // file seen
	h.advance(5 * time.Second) // file unchanged: done
	if calls := sv.callList(); !slices.Equal(calls, []string{"start", "stop"}) {
		t.Fatalf("calls %v", calls)
	}
	h.advance(h.cfg.FileGrace)
	if got := h.get(cur.ID); got.State != StateDone || len(got.Files) != 1 {
		t.Fatalf("capture %+v", got)
	}
	// without a self-stop, max_duration bounds it
	h.advance(10*time.Minute - 15*time.Second - h.cfg.FileGrace)
	if !sv.profiling() {
		t.Fatalf("second cycle not started: %v", sv.callList())
	}
	for range int(h.cfg.MaxDuration / (5 * time.Second)) {
		h.advance(5 * time.Second)
	}
	if sv.profiling() {
		t.Fatal("max_duration did not stop a capture whose trace never came")
	}
}

func TestBudgetPrecondition(t *testing.T) {
	used := int64(0)
	p := BudgetPrecondition(10<<30, 2<<30, func() int64 { return used })
	used = 8 << 30
	if err := p(context.Background()); err != nil {
		t.Fatalf("8 GiB + 2 GiB of 10 GiB refused: %v", err)
	}
	used++
	if err := p(context.Background()); !errors.Is(err, ErrDiskBudget) {
		t.Fatalf("over budget: %v", err)
	}
	if err := BudgetPrecondition(0, 1, func() int64 { return 1 << 50 })(context.Background()); err != nil {
		t.Fatalf("no budget refused: %v", err)
	}
}

// A stop on shutdown that vLLM does not answer is bounded by
// ShutdownTimeout; the capture stays recorded in flight for the next run.
func TestShutdownStopIsBounded(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	h := newHarness(t, sv, func(_ *Config, o *Options) { o.ShutdownTimeout = 100 * time.Millisecond })
	h.run()
	cp, err := h.request(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	sv.set(func(s *standin) { s.stopDelay = time.Second })
	began := time.Now()
	h.shutdown()
	if took := time.Since(began); took > 900*time.Millisecond {
		t.Fatalf("shutdown took %s with a 100ms ShutdownTimeout", took)
	}
	if doc, _ := h.ctrl.store.load(); doc.InFlight == nil || doc.InFlight.ID != cp.ID {
		t.Fatal("unconfirmed stop: the state file must keep the capture for the next run")
	}
	if counter(t, h.ctrl, TriggerOnDemand, "stop_failed") != 1 {
		t.Fatal("not counted as stop_failed")
	}
}
