package tracefile

import (
	"reflect"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func TestParse(t *testing.T) {
	ns := func(n int64) time.Time { return time.Unix(0, n).UTC() }
	unknown := func(i Info) Info {
		// Fill the "-1 unknown" defaults the table leaves out.
		for _, p := range []*int{&i.DP, &i.PP, &i.TP, &i.DCP, &i.EP, &i.Rank} {
			if *p == 0 {
				*p = -1
			}
		}
		return i
	}
	tests := []struct {
		name string
		in   string
		want Info
		ok   bool
	}{
		{
			name: "v0.17 real fixture",
			in:   "dp0_pp0_tp0_dcp0_ep0_rank0.1795789272497483694.pt.trace.json.gz",
			want: Info{
				Base:   "dp0_pp0_tp0_dcp0_ep0_rank0.1795789272497483694.pt.trace.json.gz",
				Worker: "dp0_pp0_tp0_dcp0_ep0_rank0", DP: 0, PP: 0, TP: 0, DCP: 0, EP: 0, Rank: 0,
				ExportTime: ns(1795789272497483694), Stamp: 1795789272497483694, Gzip: true, Era: EraDPRank,
			},
			ok: true,
		},
		{
			name: "v0.17 with prefix containing underscores, in a directory",
			in:   "/var/prof/my_run_2_dp1_pp2_tp3_dcp4_ep5_rank13.1760000000000000000.pt.trace.json",
			want: Info{
				Base:   "my_run_2_dp1_pp2_tp3_dcp4_ep5_rank13.1760000000000000000.pt.trace.json",
				Worker: "my_run_2_dp1_pp2_tp3_dcp4_ep5_rank13", Prefix: "my_run_2",
				DP: 1, PP: 2, TP: 3, DCP: 4, EP: 5, Rank: 13,
				ExportTime: ns(1760000000000000000), Stamp: 1760000000000000000, Era: EraDPRank,
			},
			ok: true,
		},
		{
			name: "v0.17 fallback rank only",
			in:   "rank7.1760000000000000001.pt.trace.json.gz",
			want: unknown(Info{
				Base: "rank7.1760000000000000001.pt.trace.json.gz", Worker: "rank7", Rank: 7,
				ExportTime: ns(1760000000000000001), Stamp: 1760000000000000001, Gzip: true, Era: EraDPRank,
			}),
			ok: true,
		},
		{
			name: "v0.17 fallback rank with prefix",
			in:   "warm_rank2.1760000000000000001.pt.trace.json.gz",
			want: unknown(Info{
				Base: "warm_rank2.1760000000000000001.pt.trace.json.gz", Worker: "warm_rank2", Prefix: "warm", Rank: 2,
				ExportTime: ns(1760000000000000001), Stamp: 1760000000000000001, Gzip: true, Era: EraDPRank,
			}),
			ok: true,
		},
		{
			name: "v0.11.1-v0.16 instance rank",
			in:   "1760270012345678901-rank-3.1760270099999999999.pt.trace.json.gz",
			want: unknown(Info{
				Base:     "1760270012345678901-rank-3.1760270099999999999.pt.trace.json.gz",
				Worker:   "1760270012345678901-rank-3",
				Instance: "1760270012345678901", Rank: 3,
				ExportTime: ns(1760270099999999999), Stamp: 1760270099999999999, Gzip: true, Era: EraInstanceRank,
			}),
			ok: true,
		},
		{
			name: "frontend with dotted host",
			in:   "gpu-node-7.cluster.local_81234.async_llm.1760000000123456789.pt.trace.json.gz",
			want: unknown(Info{
				Base:   "gpu-node-7.cluster.local_81234.async_llm.1760000000123456789.pt.trace.json.gz",
				Worker: "gpu-node-7.cluster.local_81234.async_llm", Host: "gpu-node-7.cluster.local", PID: 81234,
				Frontend: true, ExportTime: ns(1760000000123456789), Stamp: 1760000000123456789, Gzip: true, Era: EraFrontend,
			}),
			ok: true,
		},
		{
			name: "v0.8 host_pid with underscores and dots in host",
			in:   "ip_10_0_0_1.ec2.internal_4242.1742300000000000000.pt.trace.json.gz",
			want: unknown(Info{
				Base:   "ip_10_0_0_1.ec2.internal_4242.1742300000000000000.pt.trace.json.gz",
				Worker: "ip_10_0_0_1.ec2.internal_4242", Host: "ip_10_0_0_1.ec2.internal", PID: 4242,
				ExportTime: ns(1742300000000000000), Stamp: 1742300000000000000, Gzip: true, Era: EraHostPID,
			}),
			ok: true,
		},
		{
			name: "pre-2023 millisecond stamp",
			in:   "devbox_17.1672000000123.pt.trace.json",
			want: unknown(Info{
				Base: "devbox_17.1672000000123.pt.trace.json", Worker: "devbox_17", Host: "devbox", PID: 17,
				ExportTime: time.UnixMilli(1672000000123).UTC(), Stamp: 1672000000123, Era: EraHostPID,
			}),
			ok: true,
		},
		{
			name: "HTA-style name: not a time, so no host_pid guess",
			in:   "rank-0.Apr_03_18_51_38.1102.pt.trace.json.gz",
			want: unknown(Info{
				Base: "rank-0.Apr_03_18_51_38.1102.pt.trace.json.gz", Worker: "rank-0.Apr_03_18_51_38",
				Stamp: 1102, Gzip: true, Era: EraUnknown,
			}),
			ok: true,
		},
		{
			name: "stamp too small to be a time, unknown worker",
			in:   "rank-0.Apr_03_18_51_x.1102.pt.trace.json.gz",
			want: unknown(Info{
				Base: "rank-0.Apr_03_18_51_x.1102.pt.trace.json.gz", Worker: "rank-0.Apr_03_18_51_x",
				Stamp: 1102, Gzip: true, Era: EraUnknown,
			}),
			ok: true,
		},
		{
			name: "stamp overflowing uint64 keeps the file, loses the time",
			in:   "h_1.99999999999999999999999.pt.trace.json",
			want: unknown(Info{Base: "h_1.99999999999999999999999.pt.trace.json", Worker: "h_1", Era: EraUnknown}),
			ok:   true,
		},
		{name: "tmp file", in: "h_1.1760000000000000000.pt.trace.json.tmp"},
		{name: "no timestamp", in: "h_1.pt.trace.json.gz"},
		{name: "empty worker", in: ".1760000000000000000.pt.trace.json"},
		{name: "non-digit stamp", in: "h_1.17600000x.pt.trace.json"},
		{name: "plain json", in: "trace.json"},
		{name: "profiler table", in: "profiler_out_0.txt"},
		{name: "empty", in: ""},
		{name: "only suffix", in: ".pt.trace.json.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Parse(tt.in)
			if ok != tt.ok {
				t.Fatalf("Parse(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			}
			if !ok {
				if !reflect.DeepEqual(got, Info{}) {
					t.Errorf("Parse(%q) = %+v on failure, want zero Info", tt.in, got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestResourceAttrs(t *testing.T) {
	tests := []struct {
		in   string
		want []span.Attr
	}{
		{
			in: "p_dp1_pp0_tp2_dcp0_ep3_rank5.1760000000000000000.pt.trace.json.gz",
			want: []span.Attr{
				span.Int("vllm.rank", 5), span.Int("vllm.dp_rank", 1), span.Int("vllm.pp_rank", 0),
				span.Int("vllm.tp_rank", 2), span.Int("vllm.dcp_rank", 0), span.Int("vllm.ep_rank", 3),
				span.String("vllm.profile.prefix", "p"), span.String("vllm.process.role", "worker"),
				span.String("vllm.trace.file", "p_dp1_pp0_tp2_dcp0_ep3_rank5.1760000000000000000.pt.trace.json.gz"),
			},
		},
		{
			in: "1760270012345678901-rank-3.1760270099999999999.pt.trace.json.gz",
			want: []span.Attr{
				span.Int("vllm.rank", 3), span.String("vllm.instance_id", "1760270012345678901"),
				span.String("vllm.process.role", "worker"),
				span.String("vllm.trace.file", "1760270012345678901-rank-3.1760270099999999999.pt.trace.json.gz"),
			},
		},
		{
			in: "node.a_99.async_llm.1760000000000000000.pt.trace.json.gz",
			want: []span.Attr{
				span.String("vllm.process.role", "frontend"), span.String("host.name", "node.a"),
				span.Int("process.pid", 99),
				span.String("vllm.trace.file", "node.a_99.async_llm.1760000000000000000.pt.trace.json.gz"),
			},
		},
		{
			in: "node_a_99.1760000000000000000.pt.trace.json",
			want: []span.Attr{
				span.String("vllm.process.role", "worker"), span.String("host.name", "node_a"),
				span.Int("process.pid", 99),
				span.String("vllm.trace.file", "node_a_99.1760000000000000000.pt.trace.json"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			info, ok := Parse(tt.in)
			if !ok {
				t.Fatalf("Parse(%q) failed", tt.in)
			}
			if got := info.ResourceAttrs(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ResourceAttrs()\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestIgnored(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"h_1.1760000000000000000.pt.trace.json.tmp", true},
		{"sub/x.tmp", true},
		{"profiler_out_0.txt", true},
		{"profiler_out_12.txt", true},
		{"capture_traces/rank0.1760000000000000000.pt.trace.json.gz", true},
		{"a/capture_traces/b/rank0.1760000000000000000.pt.trace.json.gz", true},
		{`a\capture_traces\rank0.1760000000000000000.pt.trace.json.gz`, true},
		{"rank0.1760000000000000000.pt.trace.json.gz", false},
		{"capture_traces", false}, // a file so named is not under the directory
		{"my_capture_traces/rank0.1760000000000000000.pt.trace.json.gz", false},
		{"profiler_out_0.txt.gz", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := Ignored(tt.in); got != tt.want {
			t.Errorf("Ignored(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
