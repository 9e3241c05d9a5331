package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

const tiny = `{
  "baseTimeNanoseconds": 1000,
  "traceEvents": [
  {
    "ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1,
    "ts": 5000000.250, "dur": 3,
    "args": {
      "External id": 7, "correlation": 40
    }
  },
  {
    "ph": "X", "cat": "kernel", "name": "k\"x", "pid": 0, "tid": 7,
    "ts": 5000004, "dur": 2,
    "args": {
      "correlation": 40, "grid": [1, 2, 3]
    }
  },
  {
    "ph": "s", "id": 40, "pid": 1, "tid": 1, "ts": 5000000, "cat": "ac2g", "name": "ac2g"
  }
  ],
  "traceName": "x"
}`

type ev struct {
	Ts   float64        `json:"ts"`
	ID   int64          `json:"id"`
	Args map[string]any `json:"args"`
	Name string         `json:"name"`
}

func decode(t *testing.T, b []byte) []ev {
	t.Helper()
	var doc struct {
		TraceEvents []ev `json:"traceEvents"`
		TraceName   string
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("generated trace is not JSON: %v\n%s", err, b)
	}
	return doc.TraceEvents
}

func TestGenerate(t *testing.T) {
	tpl, err := parseTemplate([]byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	if tpl.tsShift != 2_000_000 || tpl.idShift != 41 {
		t.Fatalf("shifts = %d µs, %d ids; want 2000000, 41", tpl.tsShift, tpl.idShift)
	}
	for _, tc := range []struct {
		name       string
		size       int64
		wantEvents int
		wantCopies int
	}{
		{"smaller than one copy gives one copy", 10, 3, 1},
		{"three whole copies", int64(len(tiny)) + 2*int64(tpl.eventsLen) + 20, 9, 3},
		{"last copy cut at an event", int64(len(tiny)) + 200, 4, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			n, copies, err := generate(&out, tpl, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(out.Len()) || copies != tc.wantCopies {
				t.Fatalf("n=%d (wrote %d), copies=%d; want copies=%d", n, out.Len(), copies, tc.wantCopies)
			}
			evs := decode(t, out.Bytes())
			if len(evs) != tc.wantEvents {
				t.Fatalf("%d events, want %d", len(evs), tc.wantEvents)
			}
			for i, e := range evs {
				c := float64(i / 3)
				base := []float64{5000000.25, 5000004, 5000000}[i%3]
				if e.Ts != base+c*2_000_000 {
					t.Errorf("event %d: ts %v, want %v", i, e.Ts, base+c*2_000_000)
				}
				if corr, ok := e.Args["correlation"].(float64); ok && corr != 40+c*41 {
					t.Errorf("event %d: correlation %v, want %v", i, corr, 40+c*41)
				}
				if i%3 == 2 && e.ID != 40+int64(c)*41 {
					t.Errorf("event %d: flow id %d, want %d", i, e.ID, 40+int64(c)*41)
				}
				if i%3 == 0 && e.Args["External id"].(float64) != 7+c*41 {
					t.Errorf("event %d: External id %v", i, e.Args["External id"])
				}
				if i%3 == 1 && e.Name != `k"x` {
					t.Errorf("event %d: name %q changed", i, e.Name)
				}
			}
		})
	}
}

func TestParseTemplateRejects(t *testing.T) {
	for _, in := range []string{``, `{"a": 1}`, `{"traceEvents": []}`, `{"traceEvents": [{"ph": "M"}]}`} {
		if _, err := parseTemplate([]byte(in)); !errors.Is(err, ErrLayout) {
			t.Errorf("%q: err = %v, want ErrLayout", in, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{{"123", 123, true}, {"100MB", 100e6, true}, {"2GB", 2e9, true}, {"64kb", 64e3, true}, {"0", 0, false}, {"x", 0, false}, {"-5MB", 0, false}} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
