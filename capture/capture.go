package capture

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// State is where a capture is in its life.
type State string

// Capture states, in order. A capture ends done, exported or failed.
const (
	StatePending  State = "pending"  // accepted, /start_profile not sent yet
	StateStarting State = "starting" // /start_profile sent
	StateRunning  State = "running"  // vLLM is profiling
	StateStopping State = "stopping" // /stop_profile sent; vLLM writes the traces
	StateFlushing State = "flushing" // stopped; files still attributed for FileGrace
	StateDone     State = "done"     // stopped; Files lists the traces it produced
	StateExported State = "exported" // the pipeline attached trace ids
	StateFailed   State = "failed"   // see Error
)

// Trigger names of captures that no metric trigger started.
const (
	TriggerSchedule = "schedule"
	TriggerOnDemand = "on_demand"
)

// Resource attribute keys put on the spans of a capture's files.
const (
	AttrCaptureID      = "vllm.profile.capture_id"
	AttrTrigger        = "vllm.profile.trigger"       // schedule, on_demand, or the trigger's reason with its value
	AttrTriggerName    = "vllm.profile.trigger.name"  // schedule, on_demand or the trigger's name
	AttrTriggerValue   = "vllm.profile.trigger.value" // the measured quantile, metric triggers only
	AttrTriggerAbove   = "vllm.profile.trigger.threshold"
	maxTraceIDsPerFile = 10000
)

// Capture is one start/stop cycle of vLLM's profiler.
type Capture struct {
	ID string `json:"id"`
	// Trigger is schedule, on_demand or a trigger's name (low cardinality).
	Trigger string `json:"trigger"`
	// Reason says why, with the measured value for a metric trigger.
	Reason    string   `json:"reason"`
	Value     *float64 `json:"value,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
	State     State    `json:"state"`
	// Duration is the planned length; 0 with Steps > 0 (vLLM stops itself).
	Duration  Duration  `json:"duration"`
	Steps     int       `json:"steps,omitempty"`
	Requested time.Time `json:"requested"`
	Started   time.Time `json:"started,omitzero"`
	Stopped   time.Time `json:"stopped,omitzero"`
	Finished  time.Time `json:"finished,omitzero"`
	// Files are the trace files that appeared in the profiler directories
	// between the start and FileGrace after the stop.
	Files []string `json:"files,omitempty"`
	// TraceIDs are the exported traces, by file, once the pipeline has
	// attached them.
	TraceIDs map[string][]string `json:"trace_ids,omitempty"`
	Error    string              `json:"error,omitempty"`
	// Recovered: a previous run of the bridge died during this capture,
	// and this run stopped it.
	Recovered bool `json:"recovered,omitempty"`
}

// Duration is a time.Duration that reads and writes as "30s" in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON reads a Go duration string such as "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("duration must be a string such as \"30s\", got %s", b)
	}
	v, err := time.ParseDuration(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// clone is a deep copy for callers outside the controller's lock.
func (c *Capture) clone() Capture {
	out := *c
	out.Files = append([]string(nil), c.Files...)
	if c.TraceIDs != nil {
		out.TraceIDs = make(map[string][]string, len(c.TraceIDs))
		for k, v := range c.TraceIDs {
			out.TraceIDs[k] = append([]string(nil), v...)
		}
	}
	return out
}

// ended reports whether the capture is over.
func (c *Capture) ended() bool {
	return c.State == StateDone || c.State == StateExported || c.State == StateFailed
}

// Attributes are the resource attributes of the spans of this capture's
// files.
func (c *Capture) Attributes() map[string]string {
	a := map[string]string{AttrCaptureID: c.ID, AttrTrigger: c.Reason, AttrTriggerName: c.Trigger}
	if c.Value != nil {
		a[AttrTriggerValue] = fmt.Sprintf("%g", *c.Value)
	}
	if c.Threshold != nil {
		a[AttrTriggerAbove] = fmt.Sprintf("%g", *c.Threshold)
	}
	return a
}

// SpanAttributes are Attributes as span attributes, the measured value and
// threshold as doubles so that TraceQL can compare them
// ({ resource.vllm.profile.trigger.value > 2 }).
func (c *Capture) SpanAttributes() []span.Attr {
	out := []span.Attr{span.String(AttrCaptureID, c.ID), span.String(AttrTrigger, c.Reason), span.String(AttrTriggerName, c.Trigger)}
	if c.Value != nil {
		out = append(out, span.Float(AttrTriggerValue, *c.Value))
	}
	if c.Threshold != nil {
		out = append(out, span.Float(AttrTriggerAbove, *c.Threshold))
	}
	return out
}

// newID returns a sortable, unique capture id: cap-<UTC time>-<random>.
func newID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "cap-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Refusal reasons of a start (RefusedError.Reason and the outcome label
// "refused_<reason>").
const (
	RefusedBusy         = "busy"
	RefusedCooldown     = "cooldown"
	RefusedRateLimit    = "rate_limit"
	RefusedDiskBudget   = "disk_budget"
	RefusedPrecondition = "precondition"
	RefusedStopping     = "shutting_down"
)

// ErrDiskBudget is what a Precondition returns (or wraps) when the
// profiler directory's disk budget is short.
var ErrDiskBudget = errors.New("profiler directory disk budget is short")

// RefusedError is a start the safety rules refused.
type RefusedError struct {
	Reason     string        // one of the Refused* constants
	RetryAfter time.Duration // when it may be allowed, 0 if unknown
	Err        error
}

func (e *RefusedError) Error() string {
	s := "capture refused: " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry in %s)", e.RetryAfter.Round(time.Second))
	}
	return s
}

// Unwrap returns the cause.
func (e *RefusedError) Unwrap() error { return e.Err }
