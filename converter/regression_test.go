package converter

import (
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// TestLostCPUOp converts the real trace in which a member name ending at a
// read-ahead chunk boundary was overwritten by the window refill that
// looked for its colon (testdata/regressions/README.md): every event must
// become a span, the lost aten::copy_ with its exact times and parent.
func TestLostCPUOp(t *testing.T) {
	data := readFile(t, "testdata/regressions/lost-cpu-op.pt.trace.json.gz")
	c, st, err := convertBytes(t, data, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	// Every event's span, the profile root and the one step's root.
	if st.Events != 5460 || st.Skipped != 0 || st.SpansEmitted != 5462 || len(c.spans) != 5462 {
		t.Fatalf("events %d, skipped %d, spans %d (%d collected); want 5460, 0, 5462", st.Events, st.Skipped, st.SpansEmitted, len(c.spans))
	}
	byID := map[span.SpanID]int{}
	for i, s := range c.spans {
		byID[s.SpanID] = i
	}
	found := false
	for _, s := range c.spans {
		if s.Name != "aten::copy_" || s.Start != 1795789295400250985 {
			continue
		}
		found = true
		if s.End != 1795789295400264824 {
			t.Errorf("aten::copy_ ends at %d, want 1795789295400264824", s.End)
		}
		p, ok := byID[s.Parent]
		if !ok || c.spans[p].Name != "aten::_to_copy" || c.spans[p].Start != 1795789295400240124 {
			t.Errorf("aten::copy_ is not under the aten::_to_copy that starts at 1795789295400240124")
		}
	}
	if !found {
		t.Fatal("the aten::copy_ at 1795789295400250985 ns is missing")
	}
}
