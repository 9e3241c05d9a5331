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
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"dp0_pp0_tp0_dcp0_ep0_rank0.1795789272497483694.pt.trace.json.gz",
		"x_dp1_pp2_tp3_dcp4_ep5_rank6.1760000000000000000.pt.trace.json",
		"1760270012345678901-rank-3.1760270099999999999.pt.trace.json.gz",
		"host.example.com_123.async_llm.1760000000000000000.pt.trace.json.gz",
		"ip_10_0_0_1_4242.1672000000123.pt.trace.json",
		"rank-0.Apr_03_18_51_38.1102.pt.trace.json.gz",
		"a/b/capture_traces/rank0.1.pt.trace.json.gz",
		"_rank.1.pt.trace.json", "rank99999999999.1.pt.trace.json", "_.1.pt.trace.json",
	} {
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
