package converter

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// memSpill is an in-memory Spill that can be told to fail.
type memSpill struct {
	b                   []byte
	failWrite, failRead error
	reads               int
}

func (m *memSpill) WriteAt(p []byte, off int64) (int, error) {
	if m.failWrite != nil {
		return 0, m.failWrite
	}
	if need := int(off) + len(p); need > len(m.b) {
		m.b = append(m.b, make([]byte, need-len(m.b))...)
	}
	return copy(m.b[off:], p), nil
}

func (m *memSpill) ReadAt(p []byte, off int64) (int, error) {
	m.reads++
	if m.failRead != nil {
		return 0, m.failRead
	}
	if off >= int64(len(m.b)) {
		return 0, os.ErrInvalid
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, nil // short read without an error: must still fail
	}
	return n, nil
}

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
		spill *memSpill
	}{
		{"write fails", &memSpill{failWrite: boom}},
		{"read fails", &memSpill{failRead: boom}},
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
			if tc.spill.failWrite != nil && len(c.spans) != 0 {
				t.Fatal("spans emitted after a spill write error")
			}
		})
	}
}

// TestArenaSpillCache reads spilled chunks back in orders that hit, miss
// and evict the cache, and checks every byte.
func TestArenaSpillCache(t *testing.T) {
	sp := &memSpill{}
	a := arena{spill: sp}
	const n = 3 * spillCache
	refs := make([]uint64, n)
	blob := func(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, arenaChunk/2+i) }
	for i := range n {
		refs[i] = a.add(blob(i))
	}
	if a.spillEnd == 0 || a.chunks[0] != nil || a.chunks[n-1] == nil {
		t.Fatal("full chunks were not spilled, or the last one was")
	}
	orders := [][]int{}
	fwd, back, same := []int{}, []int{}, []int{}
	for i := range n {
		fwd = append(fwd, i)
		back = append(back, n-1-i)
		same = append(same, i%3)
	}
	orders = append(orders, fwd, back, same, fwd)
	for _, order := range orders {
		for _, i := range order {
			got := a.get(refs[i], uint32(len(blob(i))))
			if !bytes.Equal(got, blob(i)) {
				t.Fatalf("chunk %d read back wrong (%d bytes)", i, len(got))
			}
		}
	}
	reads := sp.reads
	for range 10 {
		a.get(refs[0], 1)
		a.get(refs[1], 1)
	}
	if sp.reads > reads+2 {
		t.Fatalf("cached chunks were read again: %d reads", sp.reads-reads)
	}
	// A short read is an error, not silently short args.
	sp.b = sp.b[:10]
	a.cache = [spillCache]cachedChunk{}
	if got := a.get(refs[2], 5); got != nil || a.err == nil {
		t.Fatalf("short read: got %d bytes, err %v", len(got), a.err)
	}
}
