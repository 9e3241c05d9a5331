package tracefile

import "testing"

// BenchmarkParse parses the names of testdata/names.txt (every era, and
// names that are not trace files).
func BenchmarkParse(b *testing.B) {
	names := fixtureNames(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, n := range names {
			Parse(n)
		}
	}
}
