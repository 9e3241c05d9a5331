package tracefile

import "testing"

func BenchmarkParse(b *testing.B) {
	names := []string{
		"dp0_pp0_tp0_dcp0_ep0_rank0.1795789272497483694.pt.trace.json.gz",
		"1760270012345678901-rank-3.1760270099999999999.pt.trace.json.gz",
		"gpu-7.example.com_81234.async_llm.1760000000123456789.pt.trace.json.gz",
		"node_a.b.c_4242.1742300000000000000.pt.trace.json.gz",
		"profiler_out_0.txt",
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, n := range names {
			Parse(n)
		}
	}
}
