package tracefile

import (
	"strconv"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// FuzzParse checks that Parse never panics and that what it accepts is
// consistent: the name is rebuilt exactly from its parts, parsing the base
// name again gives the same Info, and the resource attributes name the file.
// It starts from the names of testdata/names.txt and the corpus in
// testdata/fuzz/FuzzParse (hand-written seeds named seed-*, and inputs the
// fuzzer found).
func FuzzParse(f *testing.F) {
	for _, s := range fixtureNames(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		info, ok := Parse(name)
		_ = Ignored(name)
		if !ok {
			return
		}
		suffix := ".pt.trace.json"
		if info.Gzip {
			suffix += ".gz"
		}
		if !strings.HasSuffix(name, info.Base) {
			t.Fatalf("Base %q is not the end of %q", info.Base, name)
		}
		if info.Worker == "" {
			t.Fatalf("empty worker for %q", name)
		}
		rebuilt := info.Worker + "." + stampDigits(info.Base, suffix) + suffix
		if rebuilt != info.Base {
			t.Fatalf("rebuilt %q from %+v, want %q", rebuilt, info, info.Base)
		}
		if info.Stamp != 0 && !strings.HasSuffix(strings.TrimLeft(stampDigits(info.Base, suffix), "0"), strconv.FormatUint(info.Stamp, 10)) {
			t.Fatalf("Stamp %d does not match %q", info.Stamp, info.Base)
		}
		again, ok := Parse(info.Base)
		if !ok || again != info {
			t.Fatalf("Parse(Base) = %+v, %v; want %+v", again, ok, info)
		}
		for _, r := range []int{info.DP, info.PP, info.TP, info.DCP, info.EP, info.Rank} {
			if r < -1 {
				t.Fatalf("rank below -1 in %+v", info)
			}
		}
		if info.Frontend != (info.Era == EraFrontend) {
			t.Fatalf("Frontend %v disagrees with era %q", info.Frontend, info.Era)
		}
		attrs := info.ResourceAttrs()
		if v, ok := span.Lookup(attrs, "vllm.trace.file"); !ok || v.Str != info.Base {
			t.Fatalf("vllm.trace.file = %+v, want %q", v, info.Base)
		}
	})
}

func stampDigits(base, suffix string) string {
	rest := strings.TrimSuffix(base, suffix)
	return rest[strings.LastIndexByte(rest, '.')+1:]
}
