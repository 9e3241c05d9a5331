package converter

import (
	"errors"
	"os"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

func TestSpillGivesIdenticalOutput(t *testing.T) {
	for _, tc := range []struct {
		file      string
		wantSpill bool
	}{
		{h100Fixture, true},
		{"testdata/hta/trace_filter--sampled_rank-0.json.gz", false},
		{"testdata/golden/era_e_full.json", false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw := readFile(t, tc.file)
			want, wantSt, err := convertBytes(t, raw, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.CreateTemp(t.TempDir(), "spill")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			opts := DefaultOptions()
			opts.Spill = f
			got, st, err := convertBytes(t, raw, opts)
			if err != nil {
				t.Fatal(err)
			}
			if got.dump() != want.dump() {
				t.Fatal("output with Spill differs from output without")
			}
			if (st.SpillBytes > 0) != tc.wantSpill || wantSt.SpillBytes != 0 {
				t.Fatalf("SpillBytes = %d with spill, %d without; want spill: %v", st.SpillBytes, wantSt.SpillBytes, tc.wantSpill)
			}
			if fi, _ := f.Stat(); fi.Size() != st.SpillBytes {
				t.Fatalf("spill file holds %d bytes, Stats.SpillBytes = %d", fi.Size(), st.SpillBytes)
			}
		})
	}
}

func TestSpillErrors(t *testing.T) {
	raw := readFile(t, h100Fixture)
	boom := errors.New("disk on fire")
	for _, tc := range []struct {
		name  string
		spill *testkit.MemFile
	}{
		{"write fails", &testkit.MemFile{FailWrite: boom}},
		{"read fails", &testkit.MemFile{FailRead: boom}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.Spill = tc.spill
			c, _, err := convertBytes(t, raw, opts)
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want it to wrap %v", err, boom)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %T, want *Error", err)
			}
			if tc.spill.FailWrite != nil && len(c.spans) != 0 {
				t.Fatal("spans emitted after a spill write error")
			}
		})
	}
}
