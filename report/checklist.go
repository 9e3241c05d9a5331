package report

import (
	"fmt"
	"sort"
	"strings"
)

// Checklist items, in the order a performance engineer goes through a
// profile (issue 13).
const (
	ItemLongKernels = "long GPU kernels"
	ItemGPUIdle     = "GPU idle (CPU bottleneck)"
	ItemCPUIdle     = "CPU idle (GPU bottleneck)"
	ItemMemcpy      = "memory copies"
	ItemAlloc       = "memory allocation"
	ItemTopKernels  = "top kernels"
)

// maxEvidence bounds the steps one finding names.
const maxEvidence = 5

// checklist answers the six items from the report's steps, kernel tables
// and longest runs (profile: the sums outside every step, per file).
//
//   - long GPU kernels: flagged when a kernel ran LongKernelNs or longer;
//     the evidence is the longest run of each of the longest-running names;
//   - GPU idle: flagged steps are those whose host-wait share (the
//     vllm.step.gpu_idle.host_wait_ns attribute) reaches HostWaitShare,
//     or, without that attribute, whose idle share (vllm.step.gpu_idle_ns)
//     reaches IdleShare;
//   - CPU idle: steps whose busy share (vllm.step.gpu_busy_ns) reaches
//     BusyShare; the CPU time spent blocked in cuda*Synchronize is the
//     evidence that the host waited on the GPU;
//   - memory copies: steps whose memcpy time is MemcpyShare or more of
//     their GPU span time;
//   - memory allocation: cudaMalloc/cudaFree calls inside steps (the
//     caching allocator should make them rare) and [memory] events;
//   - top kernels: the three names with the most GPU time over all steps.
func checklist(r *Report, profile []Step, th Thresholds) []Finding {
	return []Finding{
		longKernels(r, th),
		gpuIdle(r, th),
		cpuIdle(r, th),
		memcpys(r, th),
		allocs(r, profile),
		topKernels(r),
	}
}

func (r *Report) stepLabel(i int) string {
	s := &r.Steps[i]
	l := fmt.Sprintf("step %d (%s)", s.Index, s.Kind)
	if len(r.Files) > 1 {
		l = fmt.Sprintf("file %d %s", s.File+1, l)
	}
	return l
}

func longKernels(r *Report, th Thresholds) Finding {
	f := Finding{Item: ItemLongKernels, Evidence: []string{}, Steps: []int{}}
	if len(r.Longest) == 0 {
		f.Status, f.Finding = "n/a", "no kernel in the trace"
		return f
	}
	top := r.Longest[0]
	if r.LongRuns == 0 {
		f.Status = "ok"
		f.Finding = fmt.Sprintf("no kernel ran %s or longer; the longest, %s, ran %s", fmtDur(th.LongKernelNs), top.Name, fmtDur(top.DurNs))
	} else {
		f.Status = "flag"
		f.Finding = fmt.Sprintf("%d kernel runs took %s or longer; the longest, %s, ran %s", r.LongRuns, fmtDur(th.LongKernelNs), top.Name, fmtDur(top.DurNs))
	}
	for _, k := range r.Longest {
		where := "outside every step"
		if k.Step >= 0 {
			where = fmt.Sprintf("in step %d (%s)", k.Step, k.Kind)
			if len(r.Files) > 1 {
				where = fmt.Sprintf("in file %d step %d (%s)", k.File+1, k.Step, k.Kind)
			}
			if i := r.findStep(k.File, k.Step); i >= 0 {
				f.Steps = appendUnique(f.Steps, i)
			}
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s: %s %s", k.Name, fmtDur(k.DurNs), where))
	}
	return f
}

func (r *Report) findStep(file int, index int64) int {
	for i := range r.Steps {
		if r.Steps[i].File == file && r.Steps[i].Index == index {
			return i
		}
	}
	return -1
}

func appendUnique(s []int, v int) []int {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// worst orders the steps for which val is known and at least min, by
// val descending (ties: report order), and returns them with the count of
// steps for which val was known.
func worst(r *Report, val func(*Step) (float64, bool), min float64) (hits []int, known int) {
	for i := range r.Steps {
		v, ok := val(&r.Steps[i])
		if !ok {
			continue
		}
		known++
		if v >= min {
			hits = append(hits, i)
		}
	}
	sort.SliceStable(hits, func(a, b int) bool {
		va, _ := val(&r.Steps[hits[a]])
		vb, _ := val(&r.Steps[hits[b]])
		return va > vb
	})
	return hits, known
}

func sumWall(r *Report) (wall int64) {
	for i := range r.Steps {
		wall += r.Steps[i].WallNs
	}
	return wall
}

func sumAttr(r *Report, key string) (sum int64, known int) {
	for i := range r.Steps {
		if v, ok := r.Steps[i].Int(key); ok {
			sum += v
			known++
		}
	}
	return sum, known
}

// sumFinding starts the finding of item, which is about the steps'
// attribute key: the attribute's sum, and ok false with the finding "n/a"
// when no step carries it.
func sumFinding(r *Report, item, key string) (f Finding, sum int64, ok bool) {
	f = Finding{Item: item, Evidence: []string{}, Steps: []int{}}
	sum, known := sumAttr(r, key)
	if known == 0 {
		f.Status, f.Finding = "n/a", "no step carries "+key
	}
	return f, sum, known > 0
}

func gpuIdle(r *Report, th Thresholds) Finding {
	f, idle, ok := sumFinding(r, ItemGPUIdle, AttrGPUIdle)
	if !ok {
		return f
	}
	wall := sumWall(r)
	hw, hwKnown := sumAttr(r, AttrHostWait)
	var hits []int
	var rule string
	if hwKnown > 0 {
		hits, _ = worst(r, (*Step).HostWaitShare, th.HostWaitShare)
		rule = fmt.Sprintf("the GPU waited for the host %.0f%% of the step or more", 100*th.HostWaitShare)
		f.Finding = fmt.Sprintf("GPU idle %s of %s step time (%.1f%%), of which waiting for the host %s (%.1f%%)",
			fmtDur(idle), fmtDur(wall), 100*ratio(idle, wall), fmtDur(hw), 100*ratio(hw, wall))
	} else {
		hits, _ = worst(r, (*Step).IdleShare, th.IdleShare)
		rule = fmt.Sprintf("the GPU idled %.0f%% of the step or more", 100*th.IdleShare)
		f.Finding = fmt.Sprintf("GPU idle %s of %s step time (%.1f%%); host-wait split n/a (no %s)",
			fmtDur(idle), fmtDur(wall), 100*ratio(idle, wall), AttrHostWait)
	}
	if bn := bottleneckCount(r, "host", "launch_bound"); bn != "" {
		f.Finding += "; " + bn
	}
	f.flagSteps(r, hits, rule, func(s *Step) string {
		gi, _ := s.Int(AttrGPUIdle)
		e := fmt.Sprintf("idle %s of %s", fmtDur(gi), fmtDur(s.WallNs))
		if h, ok := s.Int(AttrHostWait); ok {
			e += fmt.Sprintf(", host wait %s", fmtDur(h))
		}
		if p, ok := s.Int(AttrLaunchP99); ok {
			e += fmt.Sprintf(", launch delay p99 %s", fmtDur(p))
		}
		return e
	})
	return f
}

// flagSteps ends a finding whose flagged steps are hits (worst first)
// under rule: "ok" without hits, else "flag" with their count and
// evidence (addEvidence).
func (f *Finding) flagSteps(r *Report, hits []int, rule string, evidence func(*Step) string) {
	if len(hits) == 0 {
		f.Status = "ok"
		f.Finding += fmt.Sprintf("; no step where %s", rule)
		return
	}
	f.Status = "flag"
	f.Finding += fmt.Sprintf("; %d of %d steps where %s", len(hits), len(r.Steps), rule)
	f.addEvidence(r, hits, evidence)
}

// addEvidence names the first maxEvidence steps of hits, each labelled
// (stepLabel) before what evidence says of it.
func (f *Finding) addEvidence(r *Report, hits []int, evidence func(*Step) string) {
	for _, i := range hits[:min(len(hits), maxEvidence)] {
		f.Evidence = append(f.Evidence, r.stepLabel(i)+": "+evidence(&r.Steps[i]))
		f.Steps = append(f.Steps, i)
	}
}

// bottleneckCount says how many steps have one of the bottlenecks, "" when
// no step carries vllm.step.bottleneck.
func bottleneckCount(r *Report, kinds ...string) string {
	known, n := 0, 0
	for i := range r.Steps {
		b, ok := r.Steps[i].Str(AttrBottleneck)
		if !ok {
			continue
		}
		known++
		for _, k := range kinds {
			if b == k {
				n++
			}
		}
	}
	if known == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d steps have %s %s", n, known, AttrBottleneck, strings.Join(kinds, " or "))
}

func cpuIdle(r *Report, th Thresholds) Finding {
	f, busy, ok := sumFinding(r, ItemCPUIdle, AttrGPUBusy)
	if !ok {
		return f
	}
	wall := sumWall(r)
	var sync, calls int64
	for i := range r.Steps {
		sync += r.Steps[i].SyncNs
		calls += r.Steps[i].SyncCalls
	}
	f.Finding = fmt.Sprintf("GPU busy %s of %s step time (%.1f%%); the host blocked %s in %d cuda*Synchronize calls",
		fmtDur(busy), fmtDur(wall), 100*ratio(busy, wall), fmtDur(sync), calls)
	if bn := bottleneckCount(r, "gpu_compute", "communication", "memory_copy"); bn != "" {
		f.Finding += "; " + bn
	}
	hits, _ := worst(r, (*Step).BusyShare, th.BusyShare)
	rule := fmt.Sprintf("the GPU was busy %.0f%% of the step or more", 100*th.BusyShare)
	f.flagSteps(r, hits, rule, func(s *Step) string {
		b, _ := s.Int(AttrGPUBusy)
		e := fmt.Sprintf("busy %s of %s, host blocked in sync %s", fmtDur(b), fmtDur(s.WallNs), fmtDur(s.SyncNs))
		if c, ns, ok := s.Dominant(); ok {
			e += fmt.Sprintf(", mostly %s (%s)", c, fmtDur(ns))
		}
		return e
	})
	return f
}

func memcpyShare(s *Step) (float64, bool) {
	if s.GPUSpanNs <= 0 {
		return 0, false
	}
	var t int64
	for _, v := range s.MemcpyNs {
		t += v
	}
	return float64(t) / float64(s.GPUSpanNs), true
}

func memcpys(r *Report, th Thresholds) Finding {
	f := Finding{Item: ItemMemcpy, Evidence: []string{}, Steps: []int{}}
	var ns, bytes [4]int64
	var count, gpu int64
	for i := range r.Steps {
		s := &r.Steps[i]
		for d := range ns {
			ns[d] += s.MemcpyNs[d]
			bytes[d] += s.MemcpyBytes[d]
		}
		count += s.MemcpyCount
		gpu += s.GPUSpanNs
	}
	if gpu == 0 {
		f.Status, f.Finding = "n/a", "no GPU work in any step"
		return f
	}
	var total int64
	parts := []string{}
	for d, name := range MemcpyDirections {
		total += ns[d]
		if ns[d] > 0 || bytes[d] > 0 {
			parts = append(parts, fmt.Sprintf("%s %s in %s", name, fmtBytes(bytes[d]), fmtDur(ns[d])))
		}
	}
	f.Finding = fmt.Sprintf("%d copies took %s, %.1f%% of the steps' GPU time", count, fmtDur(total), 100*ratio(total, gpu))
	if len(parts) > 0 {
		f.Finding += " (" + strings.Join(parts, ", ") + ")"
	}
	hits, _ := worst(r, memcpyShare, th.MemcpyShare)
	rule := fmt.Sprintf("copies took %.0f%% of the GPU time or more", 100*th.MemcpyShare)
	f.flagSteps(r, hits, rule, func(s *Step) string {
		share, _ := memcpyShare(s)
		var t, b int64
		for d := range s.MemcpyNs {
			t += s.MemcpyNs[d]
			b += s.MemcpyBytes[d]
		}
		return fmt.Sprintf("%d copies, %s in %s (%.0f%% of its GPU time)", s.MemcpyCount, fmtBytes(b), fmtDur(t), 100*share)
	})
	return f
}

func allocs(r *Report, profile []Step) Finding {
	f := Finding{Item: ItemAlloc, Evidence: []string{}, Steps: []int{}}
	var calls, ns, events, evBytes int64
	peak := int64(-1)
	var hits []int
	for i := range r.Steps {
		s := &r.Steps[i]
		calls += s.AllocCalls
		ns += s.AllocNs
		events += s.MemAllocs
		evBytes += s.MemAllocB
		peak = max(peak, s.MemPeak)
		if s.AllocCalls > 0 {
			hits = append(hits, i)
		}
	}
	var outCalls int64
	for _, p := range profile {
		outCalls += p.AllocCalls
		events += p.MemAllocs
		evBytes += p.MemAllocB
		peak = max(peak, p.MemPeak)
	}
	mem := "no [memory] events (profile_memory off)"
	if events > 0 || peak >= 0 {
		mem = fmt.Sprintf("%d CUDA allocations in [memory] events, %s", events, fmtBytes(evBytes))
		if peak >= 0 {
			mem += fmt.Sprintf(", peak allocated %s", fmtBytes(peak))
		}
	}
	f.Finding = fmt.Sprintf("%d cudaMalloc/cudaFree calls inside steps (%s), %d outside; %s", calls, fmtDur(ns), outCalls, mem)
	if len(hits) == 0 {
		f.Status = "ok"
		return f
	}
	f.Status = "flag"
	sort.SliceStable(hits, func(a, b int) bool { return r.Steps[hits[a]].AllocNs > r.Steps[hits[b]].AllocNs })
	f.addEvidence(r, hits, func(s *Step) string { return fmt.Sprintf("%d calls, %s", s.AllocCalls, fmtDur(s.AllocNs)) })
	return f
}

func topKernels(r *Report) Finding {
	f := Finding{Item: ItemTopKernels, Status: "info", Evidence: []string{}, Steps: []int{}}
	if len(r.Top) == 0 {
		f.Status, f.Finding = "n/a", "no GPU work in any step"
		return f
	}
	parts := make([]string, len(r.Top))
	for i, k := range r.Top {
		parts[i] = fmt.Sprintf("%s %.1f%%", k.Name, k.GPUPct)
		e := fmt.Sprintf("%s: %d calls, %s, mean %s", k.Name, k.Calls, fmtDur(k.TotalNs), fmtDur(k.MeanNs))
		if k.Class != "" {
			e += ", class " + k.Class
		}
		f.Evidence = append(f.Evidence, e)
	}
	f.Finding = "of the steps' GPU time: " + strings.Join(parts, ", ")
	if r.Classified {
		var gpu int64
		for _, v := range r.ClassNs {
			gpu += v
		}
		f.Finding += fmt.Sprintf("; class other (unclassified kernels) %.1f%%", 100*ratio(r.ClassNs["other"], gpu))
	}
	return f
}

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// fmtDur writes ns as a short human duration.
func fmtDur(ns int64) string {
	switch a := max(ns, -ns); {
	case a >= 1_000_000_000:
		return fmt.Sprintf("%.2f s", float64(ns)/1e9)
	case a >= 1_000_000:
		return fmt.Sprintf("%.2f ms", float64(ns)/1e6)
	case a >= 1_000:
		return fmt.Sprintf("%.1f µs", float64(ns)/1e3)
	}
	return fmt.Sprintf("%d ns", ns)
}

func fmtBytes(b int64) string {
	switch a := max(b, -b); {
	case a >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
