package capture

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// sample is the bucket delta of one scrape interval.
type sample struct {
	at    time.Time
	delta hist
}

// triggerState evaluates one Trigger over successive scrapes.
type triggerState struct {
	cfg  Trigger
	prev map[string]hist // last totals per series; nil before the baseline
	ring []sample        // deltas younger than the window, oldest first
}

// observation is the outcome of one evaluation.
type observation struct {
	Value  float64 // the quantile over the window; NaN when unknown
	Count  float64 // observations in the window
	Resets int     // series whose counters went down in this scrape
	Fire   bool
	Err    error // the metric is missing or its series disagree
}

func newTriggerState(cfg Trigger) *triggerState { return &triggerState{cfg: cfg} }

// matches reports whether a series carries every configured label value.
func (t *triggerState) matches(labels map[string]string) bool {
	for k, v := range t.cfg.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// reset forgets everything: the next scrape is a new baseline.
func (t *triggerState) reset() { t.prev, t.ring = nil, nil }

// observe folds one scrape in and evaluates the trigger at now.
func (t *triggerState) observe(now time.Time, s Scrape) observation {
	series, ok := s[t.cfg.Metric]
	obs := observation{Value: math.NaN()}
	if !ok {
		obs.Err = fmt.Errorf("trigger %s: vLLM's /metrics has no histogram %s", t.cfg.Name, t.cfg.Metric)
	}
	cur := map[string]hist{}
	for sig, h := range series {
		if t.matches(h.Labels) {
			cur[sig] = h
		}
	}
	if ok && len(cur) == 0 {
		obs.Err = fmt.Errorf("trigger %s: no series of %s has labels %v", t.cfg.Name, t.cfg.Metric, t.cfg.Labels)
	}
	if t.prev != nil {
		var sum hist
		for sig, h := range cur {
			d := h // a series that appeared since the last scrape counts whole
			if p, seen := t.prev[sig]; seen {
				var wasReset bool
				d, wasReset = delta(p, h)
				if wasReset {
					obs.Resets++
				}
			} else {
				obs.Resets++
			}
			var err error
			if sum, err = add(sum, d); err != nil && obs.Err == nil {
				obs.Err = fmt.Errorf("trigger %s: %w", t.cfg.Name, err)
			}
		}
		if len(t.prev) > 0 && len(cur) == 0 {
			obs.Resets++ // every series vanished: vLLM restarted without traffic yet
		}
		t.ring = append(t.ring, sample{at: now, delta: sum})
	}
	t.prev = cur
	cut := now.Add(-t.cfg.Window)
	drop := 0
	for drop < len(t.ring) && !t.ring[drop].at.After(cut) {
		drop++
	}
	t.ring = t.ring[drop:]
	var window hist
	for _, s := range t.ring {
		if len(s.delta.Buckets) == 0 {
			continue
		}
		w, err := add(window, s.delta)
		if err != nil {
			// the bucket layout changed (vLLM restarted with other buckets):
			// keep only what came after the change.
			w = hist{Buckets: append([]bucket(nil), s.delta.Buckets...), Count: s.delta.Count, Sum: s.delta.Sum}
		}
		window = w
	}
	if n := len(window.Buckets); n > 0 {
		obs.Count = window.Buckets[n-1].Count
	}
	if obs.Count >= t.cfg.MinCount && obs.Count > 0 {
		obs.Value = quantile(t.cfg.Quantile, window)
		obs.Fire = obs.Value > t.cfg.Above
	}
	return obs
}

// describe is the trigger reason with its measured value, for example
// "p99_time_to_first_token_seconds: p99(vllm:time_to_first_token_seconds)=2.41 > 2 over 5m0s (57 requests)".
func (t *triggerState) describe(o observation) string {
	return fmt.Sprintf("%s: p%s(%s)=%s > %s over %s (%s requests)", t.cfg.Name,
		pct(t.cfg.Quantile), t.cfg.Metric,
		strconv.FormatFloat(o.Value, 'g', 4, 64), strconv.FormatFloat(t.cfg.Above, 'g', -1, 64),
		t.cfg.Window, strconv.FormatFloat(o.Count, 'f', 0, 64))
}
