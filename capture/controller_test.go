package capture

import (
	"reflect"
	"slices"
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
