package insights

import (
	"errors"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configerr"
)

func TestThresholdsValidate(t *testing.T) {
	if err := DefaultThresholds().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Thresholds)
		key  string // "" = valid
	}{
		{"ratio of 1 is allowed", func(th *Thresholds) { th.MinBusyRatio = 1 }, ""},
		{"zero kernel wait", func(th *Thresholds) { th.KernelWaitNs = 0 }, "kernel_wait_ns"},
		{"negative short op", func(th *Thresholds) { th.ShortOpNs = -5 }, "short_op_ns"},
		{"zero busy ratio", func(th *Thresholds) { th.MinBusyRatio = 0 }, "min_busy_ratio"},
		{"host gap share above 1", func(th *Thresholds) { th.HostGapShare = 1.01 }, "host_gap_share"},
		{"negative communication share", func(th *Thresholds) { th.CommunicationShare = -0.1 }, "communication_share"},
		{"memcpy share NaN", func(th *Thresholds) { th.MemcpyShare = zero / zero }, "memcpy_share"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := DefaultThresholds()
			tc.edit(&th)
			err := th.Validate()
			got := "" // the key the error names
			var ce *configerr.Error
			if errors.As(err, &ce) && strings.Contains(err.Error(), ce.Key) {
				got = ce.Key
			} else if err != nil {
				got = "not a configerr.Error naming its key: " + err.Error()
			}
			if got != tc.key {
				t.Errorf("Validate() = %v: key %q, want %q", err, got, tc.key)
			}
		})
	}
}

var zero float64
