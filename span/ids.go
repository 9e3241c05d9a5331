package span

import "encoding/binary"

// IDSource derives deterministic trace and span IDs from a seed and a key.
// The seed identifies a source (for a trace file: a hash of its content
// prefix); the key identifies the object within it (an event's ordinal, a
// step index). Equal (seed, key) pairs always give equal IDs, different keys
// under one seed never collide (the mixing function is a bijection on
// uint64), and no ID is ever zero.
type IDSource struct {
	seed uint64
}

// NewIDSource returns an IDSource seeded by the FNV-1a hash of seed.
func NewIDSource(seed []byte) IDSource {
	h := uint64(14695981039346656037)
	for _, b := range seed {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return IDSource{seed: h}
}

// Seed returns the 64-bit seed, for logging and tests.
func (s IDSource) Seed() uint64 { return s.seed }

// mix is the splitmix64 finaliser: a bijection on uint64.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Domains keep span IDs and trace IDs of different kinds of objects apart.
const (
	domainSpan  = 0x5350414e00000000 // "SPAN"
	domainTrace = 0x5452414300000000 // "TRAC"
)

// SpanID returns the span ID for key.
func (s IDSource) SpanID(key uint64) SpanID {
	v := mix(s.seed ^ mix(key^domainSpan))
	if v == 0 {
		v = 1
	}
	var id SpanID
	binary.BigEndian.PutUint64(id[:], v)
	return id
}

// TraceID returns the trace ID for key.
func (s IDSource) TraceID(key uint64) TraceID {
	hi := mix(s.seed ^ mix(key^domainTrace))
	lo := mix(hi ^ s.seed ^ 0x9e3779b97f4a7c15)
	if hi == 0 && lo == 0 {
		lo = 1
	}
	var id TraceID
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id
}

// TraceIDFromString derives a trace ID from a string key (for example a
// request id), for objects that have no numeric key.
func (s IDSource) TraceIDFromString(key string) TraceID {
	return s.TraceID(hashString(key))
}

// SpanIDFromString derives a span ID from a string key.
func (s IDSource) SpanIDFromString(key string) SpanID {
	return s.SpanID(hashString(key))
}

func hashString(k string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(k); i++ {
		h ^= uint64(k[i])
		h *= 1099511628211
	}
	return h
}
