package converter

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden")

// goldenOptions gives each hand-written trace its options by file name.
func goldenOptions(name string) Options {
	opts := DefaultOptions()
	opts.Resource = []span.Attr{span.String("service.name", "vllm"), span.Int("vllm.rank", 0)}
	switch {
	case strings.HasSuffix(name, "_export.json"):
		opts.ExportTimeNs = 1795789278257156267
	case strings.HasSuffix(name, "_pyspans.json"):
		opts.PythonSpans = true
	}
	return opts
}

// TestGolden converts small hand-written traces of each format era and
// compares a sorted text dump of every batch with testdata/golden/*.golden.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/golden/*.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := filepath.Base(in)
		t.Run(name, func(t *testing.T) {
			c, st, err := convertBytes(t, readFile(t, in), goldenOptions(name))
			if err != nil {
				t.Fatal(err)
			}
			checkTrees(t, c.spans)
			got := c.dump() + statsDump(st)
			want := strings.TrimSuffix(in, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if string(w) != got {
				t.Errorf("output differs from %s (run go test -run TestGolden -update and review the diff):\n%s", want, firstDiff(string(w), got))
			}
		})
	}
}

func statsDump(st Stats) string {
	var b strings.Builder
	b.WriteString("stats:\n")
	for _, kv := range []struct {
		k string
		v any
	}{
		{"events", st.Events}, {"spans", st.SpansEmitted}, {"span_events", st.SpanEvents},
		{"traces", st.Traces}, {"steps", st.Steps}, {"orphan_gpu", st.OrphanGPU},
		{"memory", st.MemoryEvents}, {"internal", st.Internal}, {"unknown_phases", st.UnknownPhases},
		{"unknown_categories", st.UnknownCategories}, {"non_numeric", st.NonNumeric},
		{"fwdbwd_links", st.FwdBwdLinks}, {"era", st.Era}, {"time_base", st.TimeBase},
		{"base_ns", st.BaseTimeNs}, {"skipped", st.Skipped},
	} {
		b.WriteString("  " + kv.k + " = " + strings.TrimSpace(sprint(kv.v)) + "\n")
	}
	return b.String()
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + sprint(i+1) + ":\n  want: " + x + "\n  got:  " + y
		}
	}
	return ""
}
