package recstore

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.RunTests(m)) }

// pair is a pointer-free value as the converter's buckets hold.
type pair struct{ a, b int64 }

// TestArenaSpillCache reads spilled chunks back in orders that hit, miss
// and evict the cache, and checks every byte.
func TestArenaSpillCache(t *testing.T) {
	sp := &testkit.MemFile{}
	a := Arena{Spill: sp}
	const n = 3 * spillCache
	refs := make([]uint64, n)
	blob := func(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, arenaChunk/2+i) }
	for i := range n {
		refs[i] = a.Add(blob(i))
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
			got := a.Get(refs[i], uint32(len(blob(i))))
			if !bytes.Equal(got, blob(i)) {
				t.Fatalf("chunk %d read back wrong (%d bytes)", i, len(got))
			}
		}
	}
	reads := sp.Reads
	for range 10 {
		a.Get(refs[0], 1)
		a.Get(refs[1], 1)
	}
	if sp.Reads > reads+2 {
		t.Fatalf("cached chunks were read again: %d reads", sp.Reads-reads)
	}
	// A short read is an error, not silently short args.
	sp.B = sp.B[:10]
	a.cache = [spillCache]cachedChunk{}
	if got := a.Get(refs[2], 5); got != nil || a.err == nil {
		t.Fatalf("short read: got %d bytes, err %v", len(got), a.err)
	}
}

// TestBucketSet adds values to many buckets in a skewed random order with
// tails so small and a budget so tight that tails are written out full
// and short and reused, and reads every bucket back in order, from memory
// and from a Spill with and without gathered writes.
func TestBucketSet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spill  bool
		gather int
	}{{"memory", false, 0}, {"spill", true, 0}, {"spill, no gathering", true, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			var sc *Scratch
			if tc.spill {
				sc = NewScratch(&testkit.MemFile{})
			} else {
				sc = NewScratch(nil)
			}
			sc.SetGather(tc.gather)
			const buckets = 50
			bs := NewBucketSet[pair](sc, buckets, 3, 9)
			want := make([][]pair, buckets)
			rnd := uint64(1)
			for i := range 5000 {
				rnd = rnd*6364136223846793005 + 1442695040888963407
				b := int(rnd>>33) % buckets
				if i%3 == 0 {
					b = (i / 100) % buckets // a moving hot bucket, as steps are
				}
				v := pair{int64(i), int64(b)}
				bs.Add(b, v)
				want[b] = append(want[b], v)
			}
			if bs.held > bs.budget {
				t.Fatalf("tails hold %d values, budget %d", bs.held, bs.budget)
			}
			for b := range buckets {
				got, ok := bs.Take(b, nil)
				if !ok {
					t.Fatal(sc.err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want[b]) {
					t.Fatalf("bucket %d: got %v, want %v", b, got, want[b])
				}
			}
		})
	}
}
