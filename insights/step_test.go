package insights

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"
)

func testThresholds() Thresholds {
	th := DefaultThresholds()
	th.KernelWaitNs = 50
	return th
}

func kernel(start, end int64, c Class, name string, launch uint64, ls, le int64) GPUOp {
	return GPUOp{Start: start, End: end, Kind: OpKernel, Class: c, Key: keyOf(name), Name: name,
		Launched: true, Launch: launch, LaunchStart: ls, LaunchEnd: le}
}

func keyOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// idleSplit is a step's GPU busy time and how its idle time splits into
// host wait, kernel wait and other idle.
type idleSplit struct{ busy, idle, host, kernelWait, other int64 }

// checkSplit fails t unless s has the GPU span (sum of op durations) and
// the split worked out by hand for it.
func checkSplit(t *testing.T, s Step, gpuSpan int64, want idleSplit) {
	t.Helper()
	got := idleSplit{busy: s.BusyNs, idle: s.IdleNs, host: s.HostWaitNs, kernelWait: s.KernelWaitNs, other: s.OtherIdle}
	if got != want || s.GPUSpanNs != gpuSpan {
		t.Errorf("span %d, %+v; want span %d, %+v", s.GPUSpanNs, got, gpuSpan, want)
	}
}

// One stream, every figure worked out by hand.
func TestAnalyzeOneStream(t *testing.T) {
	a := NewAnalyzer(testThresholds())
	a.Reset()
	a.AddGPU(kernel(310, 400, ClassElementwise, "add", 2, 70, 80))       // gap 300-310: launched at 70 < 300, 10 < 50: kernel wait
	a.AddGPU(kernel(100, 300, ClassGEMM, "gemm_kernel", 1, 50, 60))      // gap 0-100: launched at 50 > 0: host wait
	a.AddGPU(kernel(600, 700, ClassAttention, "flash_fwd", 3, 500, 510)) // gap 400-600: launched at 500 > 400: host wait
	a.AddGPU(GPUOp{Start: 700, End: 750, Kind: OpMemcpy, Class: ClassMemcpy, Bytes: 4096, Dir: CopyHtoD,
		Launched: true, Launch: 4, LaunchStart: 520, LaunchEnd: 530})
	a.AddGPU(GPUOp{Start: 800, End: 820, Kind: OpMemset, Class: ClassMemset}) // no launch: gap 750-800 = 50: other
	a.AddCPU(CPUPython, 1, 0, 900)
	a.AddCPU(CPUAten, 1, 10, 100)
	a.AddCPU(CPUAten, 1, 50, 200)
	a.AddCPU(CPUAten, 2, 0, 50)
	a.AddCPU(CPURuntime, 1, 50, 60)
	a.AddCPU(CPURuntime, 1, 70, 80)
	a.AddMemory(1000, 100)
	a.AddMemory(3000, 200)
	a.AddMemory(2000, -500)
	s := a.Analyze(0, 1000, 10)

	want := Step{
		GPUSpanNs: 460, Ops: 5, WallNs: 1000, BusyNs: 460, IdleNs: 540,
		HostWaitNs: 100 + 200 + 180, KernelWaitNs: 10, OtherIdle: 50, LongestGapNs: 200,
		Launches: 3, LaunchDelayP50: 90, LaunchDelayP99: 230,
		TopKernels: [3]string{"gemm_kernel", "flash_fwd", "add"}, NTop: 3,
		HasMemory: true, PeakAllocated: 3000, Allocated: 300,
		Tokens: 10, GPUNsPerToken: 46, Bottleneck: BottleneckLaunchBound,
	}
	want.GPUTime[ClassGEMM], want.GPUTime[ClassElementwise], want.GPUTime[ClassAttention] = 200, 90, 100
	want.GPUTime[ClassMemcpy], want.GPUTime[ClassMemset] = 50, 20
	want.CopyBytes[CopyHtoD], want.CopyNs[CopyHtoD] = 4096, 50
	want.CPUNs = [numCPUKinds]int64{900 - 190, 190 - 20 + 50, 20}
	want.CPUTotalNs = 950
	if s != want {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

// Two streams overlapping: busy is their union, GPU time their sum.
func TestAnalyzeTwoStreams(t *testing.T) {
	a := NewAnalyzer(testThresholds())
	a.AddGPU(kernel(0, 400, ClassGEMM, "gemm", 1, 0, 0))
	a.AddGPU(kernel(200, 600, ClassCommunication, "ncclDevKernel_AllReduce", 2, 100, 110))
	s := a.Analyze(0, 1000, 0)
	checkSplit(t, s, 800, idleSplit{busy: 600, idle: 400, host: 400})
	if s.Bottleneck != BottleneckCommunication { // busy 0.6, communication half the GPU time
		t.Errorf("bottleneck %v", s.Bottleneck)
	}
	if s.GPUNsPerToken != 0 || s.LaunchDelayP50 != 0 || s.LaunchDelayP99 != 90 {
		t.Errorf("per token %d, launch delays %d %d", s.GPUNsPerToken, s.LaunchDelayP50, s.LaunchDelayP99)
	}
}

// Overlapping kernels (one inside another, one straddling its end).
func TestAnalyzeOverlapping(t *testing.T) {
	a := NewAnalyzer(testThresholds())
	a.AddGPU(kernel(100, 500, ClassGEMM, "a", 1, 10, 20))
	a.AddGPU(kernel(200, 300, ClassGEMM, "b", 2, 30, 40))
	a.AddGPU(kernel(450, 700, ClassNorm, "c", 3, 50, 60))
	s := a.Analyze(0, 800, 0)
	checkSplit(t, s, 750, idleSplit{busy: 600, idle: 200, host: 200})
	if s.GPUTime[ClassGEMM] != 500 || s.GPUTime[ClassNorm] != 250 || s.Bottleneck != BottleneckGPUCompute {
		t.Errorf("gemm %d norm %d bottleneck %v", s.GPUTime[ClassGEMM], s.GPUTime[ClassNorm], s.Bottleneck)
	}
	if s.TopKernels != [3]string{"a", "c", "b"} {
		t.Errorf("top %q", s.TopKernels)
	}
}

// A CUDA graph: one launch, three kernels; one launch delay; the later
// kernels' gaps are never host wait (their launch began long before).
func TestAnalyzeCUDAGraph(t *testing.T) {
	a := NewAnalyzer(testThresholds())
	for _, k := range [][2]int64{{100, 150}, {152, 200}, {260, 300}} {
		a.AddGPU(kernel(k[0], k[1], ClassElementwise, "k", 9, 10, 20))
	}
	s := a.Analyze(0, 400, 0)
	checkSplit(t, s, 50+48+40, idleSplit{busy: 138, idle: 262, host: 200, kernelWait: 2, other: 60})
	if s.Launches != 1 || s.LaunchDelayP50 != 80 || s.LaunchDelayP99 != 80 {
		t.Errorf("launches %d p50 %d p99 %d", s.Launches, s.LaunchDelayP50, s.LaunchDelayP99)
	}
}

// A step with no GPU work: all idle is host wait, the verdict host.
func TestAnalyzeNoGPU(t *testing.T) {
	a := NewAnalyzer(testThresholds())
	a.AddGPU(kernel(1, 2, ClassGEMM, "stale", 1, 0, 0))
	a.Analyze(0, 10, 0)
	a.Reset() // nothing of the previous step may remain
	a.AddCPU(CPUPython, 1, 0, 500)
	s := a.Analyze(0, 500, 4)
	want := Step{WallNs: 500, IdleNs: 500, HostWaitNs: 500, LongestGapNs: 500, Tokens: 4, Bottleneck: BottleneckHost}
	want.CPUNs[CPUPython] = 500
	want.CPUTotalNs = 500
	if s != want {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

// GPU work that starts before the step (clock skew): the split still sums
// to max(0, wall - busy).
func TestAnalyzeSkew(t *testing.T) {
	a := NewAnalyzer(testThresholds())
	a.AddGPU(kernel(50, 150, ClassGEMM, "g", 1, 40, 45))
	s := a.Analyze(100, 200, 0)
	checkSplit(t, s, 100, idleSplit{busy: 100})
}

// Random steps against a brute-force oracle: a bitmap of busy ns.
func TestAnalyzeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a := NewAnalyzer(testThresholds())
	for iter := 0; iter < 500; iter++ {
		a.Reset()
		const wall = 2000
		start := int64(r.IntN(200)) - 100
		busy := make([]bool, 4000)
		var span int64
		var delays []int64
		n := r.IntN(12)
		for i := 0; i < n; i++ {
			s := int64(r.IntN(2200)) - 150
			e := s + int64(r.IntN(300))
			ls := s - int64(r.IntN(400))
			a.AddGPU(kernel(s, e, Class(r.IntN(int(numClasses))), "k", uint64(i), ls, ls+5))
			span += e - s
			delays = append(delays, max(0, s-(ls+5)))
			for x := s; x < e; x++ {
				busy[x+1000] = true
			}
		}
		var union int64
		for _, b := range busy {
			if b {
				union++
			}
		}
		s := a.Analyze(start, start+wall, 0)
		var classes int64
		for _, v := range s.GPUTime {
			classes += v
		}
		if classes != span || s.GPUSpanNs != span {
			t.Fatalf("iter %d: classes %d span %d, want %d", iter, classes, s.GPUSpanNs, span)
		}
		if s.BusyNs != union || s.IdleNs != max(0, wall-union) {
			t.Fatalf("iter %d: busy %d idle %d, union %d", iter, s.BusyNs, s.IdleNs, union)
		}
		if s.HostWaitNs < 0 || s.KernelWaitNs < 0 || s.OtherIdle < 0 || s.HostWaitNs+s.KernelWaitNs+s.OtherIdle != s.IdleNs {
			t.Fatalf("iter %d: idle %d = %d+%d+%d", iter, s.IdleNs, s.HostWaitNs, s.KernelWaitNs, s.OtherIdle)
		}
		if n > 0 {
			slices.Sort(delays)
			if s.LaunchDelayP99 != delays[len(delays)-1] && len(delays) < 100 {
				t.Fatalf("iter %d: p99 %d, max %d", iter, s.LaunchDelayP99, delays[len(delays)-1])
			}
		}
	}
}

func TestCopyDirection(t *testing.T) {
	for name, want := range map[string]CopyDir{
		"Memcpy HtoD (Pageable -> Device)": CopyHtoD,
		"Memcpy DtoH (Device -> Pageable)": CopyDtoH,
		"Memcpy DtoD (Device -> Device)":   CopyDtoD,
		"Memcpy PtoP (Device -> Device)":   CopyDtoD,
		"Memcpy HtoH (Host -> Host)":       CopyOther,
		"":                                 CopyOther,
	} {
		if got := CopyDirection(name); got != want {
			t.Errorf("CopyDirection(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestAnalyzeAllocates(t *testing.T) {
	a := NewAnalyzer(DefaultThresholds())
	fill := func() {
		a.Reset()
		for i := int64(0); i < 2000; i++ {
			a.AddGPU(kernel(i*10, i*10+7, Class(i%9), "k", uint64(i%700), i*10-5, i*10-3))
			a.AddCPU(CPUAten, uint64(i%3), i*10, i*10+4)
		}
	}
	fill()
	a.Analyze(0, 30000, 100)
	if n := testing.AllocsPerRun(20, func() { fill(); a.Analyze(0, 30000, 100) }); n != 0 {
		t.Errorf("Analyze allocates %.0f times a step once warm", n)
	}
}

func BenchmarkAnalyze(b *testing.B) {
	a := NewAnalyzer(DefaultThresholds())
	for b.Loop() {
		a.Reset()
		for i := int64(0); i < 2000; i++ {
			a.AddGPU(kernel(i*10, i*10+7, Class(i%9), "k", uint64(i%700), i*10-5, i*10-3))
			a.AddCPU(CPUAten, uint64(i%3), i*10, i*10+4)
		}
		a.Analyze(0, 30000, 100)
	}
}
