package converter

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestScratchModes converts every fixture and golden input with no spill,
// with an in-memory Spill, and both again with one-record chunks and
// two-value bucket tails (so that every piece of every bucket goes through
// scratch storage), and requires byte-identical batches. The big fixtures
// (over 512 KiB of file) only go through the tiny setting with a spill, and not at
// all under -short or the race detector (TestSpillGivesIdenticalOutput
// still compares the H100 trace with and without a spill file there).
func TestScratchModes(t *testing.T) {
	inputs := fixtures(t)
	golden, _ := filepath.Glob("testdata/golden/*.json")
	inputs = append(inputs, golden...)
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			raw := readFile(t, in)
			big := len(raw) > 512<<10
			if big && (testing.Short() || raceEnabled) {
				t.Skip("big input: skipped under -short and -race; scripts/test.sh runs it without -race")
			}
			opts := goldenOptions(filepath.Base(in))
			if strings.Contains(in, "hta") {
				opts.PythonSpans = strings.Contains(in, "call_stack") // both modes on real data
			}
			conv := func(spill Spill, tune tuning) (string, Stats) {
				t.Helper()
				c := &collected{}
				o := opts
				o.Spill = spill
				st, err := convert(context.Background(), bytes.NewReader(raw), o, c.emit, tune)
				if err != nil {
					t.Fatal(err)
				}
				checkBooks(t, st)
				return c.dump() + statsDump(st) + fmt.Sprint(c.batches, st.Batches, st.SpansDropped, st.LinksDropped, st.OrphanGPU, st.FwdBwdLinks), st
			}
			want, wantSt := conv(nil, tuning{})
			tiny := tuning{recordChunk: 1, tailCap: 2, gather: 1}
			for _, tc := range []struct {
				name  string
				spill bool
				tune  tuning
			}{
				{"memory spill", true, tuning{}},
				{"no spill, tiny", false, tiny},
				{"memory spill, tiny", true, tiny},
			} {
				if big && !(tc.spill && tc.tune == tiny) {
					continue
				}
				var sp *testkit.MemFile
				var spill Spill
				if tc.spill {
					sp = &testkit.MemFile{}
					spill = sp
				}
				got, st := conv(spill, tc.tune)
				if got != want {
					t.Fatalf("%s: output differs from the default conversion:\n%s", tc.name, firstDiff(want, got))
				}
				if st.LargestTrace != wantSt.LargestTrace || st.Records != wantSt.Records {
					t.Fatalf("%s: stats differ: %+v vs %+v", tc.name, st, wantSt)
				}
				if sp != nil && int64(len(sp.B)) != st.SpillBytes {
					t.Fatalf("%s: spill holds %d bytes, SpillBytes = %d", tc.name, len(sp.B), st.SpillBytes)
				}
				if tc.tune == tiny && st.Records > 2 && st.ScratchBytes <= wantSt.ScratchBytes {
					t.Fatalf("%s: ScratchBytes %d, want more than %d", tc.name, st.ScratchBytes, wantSt.ScratchBytes)
				}
				if tc.tune == tiny && tc.spill && st.Records > 2 && st.SpillBytes == 0 {
					t.Fatalf("%s: nothing spilled", tc.name)
				}
			}
		})
	}
}
