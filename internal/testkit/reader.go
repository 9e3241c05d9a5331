package testkit

import (
	"io"
	"math/rand/v2"
)

// ChunkReader returns data in reads of 1..max bytes, a fixed pseudo-random
// sequence seeded by len(data) and max, so a reader that refills a window
// is cut in the middle of every kind of token, the same way on every run.
type ChunkReader struct {
	data []byte
	max  int
	rng  *rand.Rand
}

// NewChunkReader returns a ChunkReader over data with reads of at most
// max bytes (max >= 1).
func NewChunkReader(data []byte, max int) *ChunkReader {
	return &ChunkReader{data: data, max: max, rng: rand.New(rand.NewPCG(uint64(len(data)), uint64(max)))}
}

func (r *ChunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data), 1+r.rng.IntN(r.max))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}
