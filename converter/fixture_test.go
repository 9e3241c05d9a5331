package converter

import (
	"encoding/json"
	"math/big"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// fixtures are real traces: the small H100 vLLM-shaped trace and the HTA
// test traces (MIT, see testdata/hta/LICENSE.HolisticTraceAnalysis).
func fixtures(t *testing.T) []string {
	t.Helper()
	out := testkit.Glob(t, "../testdata/h100/*.json.gz", "testdata/hta/*.json", "testdata/hta/*.json.gz")
	if len(out) < 10 {
		t.Fatalf("only %d fixtures found", len(out))
	}
	return out
}

// refEvent is an event decoded independently with encoding/json.
type refEvent struct {
	Ph   string      `json:"ph"`
	Cat  string      `json:"cat"`
	Name string      `json:"name"`
	Ts   json.Number `json:"ts"`
	Dur  json.Number `json:"dur"`
	Pid  any         `json:"pid"`
	Tid  any         `json:"tid"`
	Args refArgs     `json:"args"`
}

type refArgs struct {
	Correlation *json.Number `json:"correlation"`
}

type refTrace struct {
	Events []refEvent `json:"traceEvents"`
	Base   *int64     `json:"baseTimeNanoseconds"`
}

func decodeRef(t *testing.T, plain []byte) refTrace {
	t.Helper()
	var tr refTrace
	if err := json.Unmarshal(plain, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// refUnixNs computes Unix ns from a ts text with math/big, independently of
// parseMicrosToNs.
func refUnixNs(t *testing.T, ts json.Number, base int64) int64 {
	t.Helper()
	r, ok := new(big.Rat).SetString(string(ts))
	if !ok {
		t.Fatalf("bad ts %q", ts)
	}
	r.Mul(r, big.NewRat(1000, 1))
	if !r.IsInt() {
		t.Fatalf("ts %q is not a whole number of ns", ts)
	}
	return r.Num().Int64() + base
}

func refCorrelation(args refArgs) (int64, bool) {
	if args.Correlation == nil {
		return 0, false
	}
	i, err := args.Correlation.Int64()
	return i, err == nil
}

var (
	stepRe     = regexp.MustCompile(`^(execute_context_\d+\(\d+\)_generation_\d+\(\d+\)|execute_new_\d+_cached_\d+)$`)
	profStepRe = regexp.MustCompile(`^ProfilerStep#\d+$`)
)

func TestFixturesConvert(t *testing.T) {
	for _, path := range fixtures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			raw := readFile(t, path)
			plain := plainJSON(t, raw)
			ref := decodeRef(t, plain)
			opts := DefaultOptions()
			opts.MaxSpansPerTrace = 0
			c, st, err := convertBytes(t, raw, opts)
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			if c.mixedBatch {
				t.Fatal("a batch mixed traces")
			}
			checkTrees(t, c.spans)
			if st.Events != int64(len(ref.Events)) {
				t.Fatalf("Stats.Events = %d, JSON has %d", st.Events, len(ref.Events))
			}
			if st.JSONBytes != int64(len(plain)) {
				t.Errorf("JSONBytes = %d, want %d", st.JSONBytes, len(plain))
			}

			ids := fileIDs(plain[:min(len(plain), seedPrefix)], opts.identity())
			byID := map[span.SpanID]*span.Span{}
			for i := range c.spans {
				byID[c.spans[i].SpanID] = &c.spans[i]
			}
			var base int64
			if ref.Base != nil {
				base = *ref.Base
			}
			// Launches by correlation, from the JSON.
			launch := map[int64]int{}
			for k, e := range ref.Events {
				if e.Ph == "X" && (e.Cat == "cuda_runtime" || e.Cat == "cuda_driver") {
					if corr, ok := refCorrelation(e.Args); ok {
						if _, dup := launch[corr]; !dup {
							launch[corr] = k
						}
					}
				}
			}
			gpu, checkedParents, checkedTimes := 0, 0, 0
			vllmSteps, profSteps := 0, 0
			for _, e := range ref.Events {
				if e.Ph == "X" && e.Cat == "user_annotation" && stepRe.MatchString(e.Name) {
					vllmSteps++
				}
				if e.Ph == "X" && e.Cat == "user_annotation" && profStepRe.MatchString(e.Name) {
					profSteps++
				}
			}
			steps := vllmSteps
			if steps == 0 {
				steps = profSteps // ProfilerStep#N only when vLLM wrote none
			}
			for k, e := range ref.Events {
				if e.Ph != "X" || (e.Cat != "kernel" && e.Cat != "gpu_memcpy" && e.Cat != "gpu_memset") {
					continue
				}
				gpu++
				s := byID[ids.SpanID(uint64(k))]
				if s == nil {
					t.Fatalf("GPU event %d (%s) has no span", k, e.Name)
				}
				if cat, _ := lookupStr(s.Attrs, "kineto.category"); cat != e.Cat {
					t.Fatalf("event %d: kineto.category %q, want %q", k, cat, e.Cat)
				}
				if corr, ok := refCorrelation(e.Args); ok {
					if l, ok := launch[corr]; ok {
						if s.Parent != ids.SpanID(uint64(l)) {
							t.Fatalf("GPU event %d: parent %s, want launch %d", k, s.Parent, l)
						}
						checkedParents++
					}
				}
				if k%7 == 0 && ref.Base != nil || k%7 == 0 && st.TimeBase == "absolute" {
					if want := refUnixNs(t, e.Ts, base); s.Start != want {
						t.Fatalf("event %d: start %d, want %d", k, s.Start, want)
					}
					if want := refUnixNs(t, e.Ts, base) + refUnixNs(t, e.Dur, 0); s.End != want {
						t.Fatalf("event %d: end %d, want %d", k, s.End, want)
					}
					checkedTimes++
				}
			}
			gpuSpans, stepRoots := 0, 0
			for _, s := range c.spans {
				cat, ok := lookupStr(s.Attrs, "kineto.category")
				synthetic := s.Name == "vllm.profile" || strings.HasPrefix(s.Name, "vllm.step.") && s.Parent.IsZero()
				if !ok && !synthetic {
					t.Fatalf("span %q has no kineto.category", s.Name)
				}
				switch cat {
				case "kernel", "gpu_memcpy", "gpu_memset":
					gpuSpans++
				}
				if strings.HasPrefix(s.Name, "vllm.step.") && s.Parent.IsZero() {
					stepRoots++
				}
			}
			if gpuSpans != gpu {
				t.Fatalf("%d GPU spans, JSON has %d GPU activity events", gpuSpans, gpu)
			}
			if stepRoots != steps || st.Steps != steps {
				t.Fatalf("%d step roots (Stats.Steps %d), JSON has %d step annotations", stepRoots, st.Steps, steps)
			}
			if strings.Contains(path, "h100") {
				checkH100(t, c, st)
			}
			t.Logf("events=%d spans=%d gpu=%d parents checked=%d times checked=%d steps=%d era=%s",
				st.Events, st.SpansEmitted, gpu, checkedParents, checkedTimes, steps, st.Era)
		})
	}
}

// checkH100 checks the H100 fixture: every kernel's launch is in the file, kernels of one
// cudaGraphLaunch share a parent, and all steps nest.
func checkH100(t *testing.T, c *collected, st Stats) {
	t.Helper()
	if st.OrphanGPU != 0 {
		t.Errorf("OrphanGPU = %d, want 0", st.OrphanGPU)
	}
	if st.Era != "E" || st.TimeBase != "baseTimeNanoseconds" {
		t.Errorf("era %s time base %s", st.Era, st.TimeBase)
	}
	byID := map[span.SpanID]*span.Span{}
	for i := range c.spans {
		byID[c.spans[i].SpanID] = &c.spans[i]
	}
	graphKids := map[span.SpanID]int{}
	folded := 0
	for _, s := range c.spans {
		if cat, _ := lookupStr(s.Attrs, "kineto.category"); cat == "kernel" {
			if p := byID[s.Parent]; p != nil && p.Name == "cudaGraphLaunch" {
				graphKids[s.Parent]++
			}
			if short := s.Name; strings.ContainsAny(short, "<(") {
				t.Fatalf("kernel span name not shortened: %q", short)
			}
		}
		if _, ok := lookupStr(s.Attrs, "code.function.name"); ok {
			folded++
		}
	}
	maxKids := 0
	for _, n := range graphKids {
		maxKids = max(maxKids, n)
	}
	if maxKids < 100 {
		t.Errorf("largest cudaGraphLaunch has %d kernels, want hundreds", maxKids)
	}
	if folded == 0 {
		t.Error("no python frame was folded into an op")
	}
	// Step roots cover their children.
	ends := map[span.TraceID][2]int64{}
	for _, s := range c.spans {
		if s.Parent.IsZero() {
			ends[s.TraceID] = [2]int64{s.Start, s.End}
		}
	}
	for _, s := range c.spans {
		r := ends[s.TraceID]
		if s.End > r[1] {
			t.Fatalf("span %s ends after its trace root", s.Name)
		}
	}
	// Names: no batch sizes, no addresses; each GPU-side annotation under
	// its CPU side (a step's under the rank span).
	gpuAnnots, gpuSteps := 0, 0
	for _, s := range c.spans {
		if strings.HasPrefix(s.Name, "execute_") || strings.Contains(s.Name, " at 0x") {
			t.Fatalf("span name %q", s.Name)
		}
		if v, ok := lookupStr(s.Attrs, "code.function.name"); ok && strings.Contains(v, " at 0x") {
			t.Fatalf("code.function.name %q", v)
		}
		if cat, _ := lookupStr(s.Attrs, "kineto.category"); cat != "gpu_user_annotation" {
			continue
		}
		p := byID[s.Parent]
		switch {
		case s.Name == GPUStepSpanName:
			raw, _ := lookupStr(s.Attrs, "vllm.step.name")
			if p == nil || p.Name != RankStepSpanName || !strings.HasPrefix(raw, "execute_") {
				t.Fatalf("GPU step annotation %q under %v", raw, p)
			}
			gpuSteps++
		case strings.HasPrefix(s.Name, "gpu:"):
			if p == nil || p.Name != strings.TrimPrefix(s.Name, "gpu:") {
				t.Fatalf("%s is not under its CPU-side annotation (parent %v)", s.Name, p)
			}
			gpuAnnots++
		default:
			t.Fatalf("GPU annotation named %q", s.Name)
		}
	}
	if gpuSteps == 0 || gpuAnnots == 0 {
		t.Errorf("%d GPU step annotations, %d other GPU annotations", gpuSteps, gpuAnnots)
	}
	res := c.resource
	for _, k := range []string{"gpu.name", "gpu.compute_capability", "cuda.runtime.version", "cupti.version", "kineto.trace_id"} {
		if _, ok := span.Lookup(res, k); !ok {
			t.Errorf("resource lacks %s", k)
		}
	}
	if cc, _ := lookupStr(res, "gpu.compute_capability"); cc != "9.0" {
		t.Errorf("gpu.compute_capability = %q", cc)
	}
}

func TestDeterministic(t *testing.T) {
	raw := readFile(t, "testdata/hta/trace_filter--sampled_rank-0.json.gz")
	a, _, err := convertBytes(t, raw, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := convertBytes(t, raw, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if a.dump() != b.dump() {
		t.Fatal("two conversions of one file differ")
	}
	// The same JSON, uncompressed, gives the same IDs.
	c, _, err := convertBytes(t, plainJSON(t, raw), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if a.dump() != c.dump() {
		t.Fatal("gzip and plain input differ")
	}
}
