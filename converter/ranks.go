package converter

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// One engine step of a tensor- or pipeline-parallel run is one trace,
// whatever the number of ranks and however their files are converted: the
// step's root span (named after the step's kind) gets ids that every
// rank's file yields alike, and each rank's part hangs under it as a
// vllm.rank.step span with ids of that rank's own file.
//
// The window rule: two files hold the same profile window, and their k-th
// steps the same engine step, when all of these agree (so each file can be
// converted alone, anywhere, and still land in the right trace):
//
//   - the export's shared identity: service.name and the user's resource
//     attributes that are not per host, process or rank (sharedIdentity),
//     and what the file name says of the engine (vllm.instance_id,
//     vllm.profile.prefix);
//   - distributedInfo's world_size, which must be 2 or more (a file of a
//     single-GPU engine, or without distributedInfo, is never joined), and
//     the file's dp rank (data-parallel replicas run different steps);
//   - the sequence of step annotation names (vLLM's scheduler output,
//     broadcast to every worker: the same batch sizes in the same order);
//   - the second (Unix, floor) in which the window's first step started.
//
// How it fails, never by merging silently: a rank whose window started or
// stopped one step off, or whose first step started in another second
// (clocks more than the step's spread apart, or a window starting within
// that spread of a second boundary: about 1 in 10,000 on one host), gets
// traces of its own, whose roots say vllm.step.ranks 1. A file without an
// absolute time base (era C) or a world size below 2 is never joined: its
// steps are its own. Two
// different windows of one deployment with identical annotation sequences
// starting in the same second would share traces; a Joiner that sees both
// marks the root with bridge.step.window_conflict (and counts it).
const stepIDVersion = "vllm-otel-bridge/step/v1"

// windowGridNs is the time grid of the window rule: the second the
// window's first step started in.
const windowGridNs = int64(1e9)

// RankStep is one rank's part of one engine step: what the converter
// knows of the step from one trace file. Options.Steps receives one per
// step; StepRoot builds the cross-rank root from any number of them.
type RankStep struct {
	// TraceID and RootID are the step trace's and its root's ids (the
	// same from every rank's file); RankSpanID is this rank's
	// vllm.rank.step span.
	TraceID    span.TraceID
	RootID     span.SpanID
	RankSpanID span.SpanID
	// Rank is the global rank (vllm.rank), -1 when unknown; WorldSize
	// from distributedInfo, 0 when unknown.
	Rank, WorldSize int64
	// Start and End are the rank span's times (Unix ns): the step
	// annotation's start to the next step's start or the end of the
	// step's last work. WallNs is from the start to the end of the step's
	// own work (its annotation, its ops and the GPU work they launched).
	Start, End, WallNs int64
	// CommNs is the time in communication (NCCL) kernels;
	// Collectives their durations in start order, for the cross-rank
	// collective wait.
	CommNs      int64
	Collectives []int64
	// Name, Attrs and Links are the root's rank-independent part: the
	// step's kind, index, annotation name and counts, world size and
	// what the Linker said (request ids, links).
	Name  string
	Attrs []span.Attr
	// Figures are this rank's step figures and verdicts (kernel count,
	// GPU busy and idle time, CPU time, the insights attributes), also on
	// its vllm.rank.step span; the root carries those of one rank.
	Figures []span.Attr
	Links   []span.Link
	// Resource is the root's resource: the shared identity, without
	// anything per host, process or rank.
	Resource *span.Resource
}

// StepSink receives the cross-rank part of every step instead of the
// converter writing each step's root itself (Options.Steps). AddStep is
// called once per step, before that step's rank spans are emitted; the
// RankStep is valid only during the call.
type StepSink interface {
	AddStep(RankStep) error
}

// StepRoot builds the step's root span from the parts of the ranks known
// (at least one; duplicates of one rank span count once): the
// rank-independent attributes of the lowest rank's part, the times
// spanning every rank's, and the cross-rank figures:
//
//   - vllm.step.ranks: how many ranks' parts the root was built from;
//   - vllm.step.rank_ids, vllm.step.rank_wall_ns, vllm.step.rank_comm_ns:
//     per rank, in rank order;
//   - with two ranks or more: vllm.step.rank_collective_wait_ns, when
//     every rank ran the same number of collectives: per rank, the sum
//     over the step's collectives of its kernel's duration minus the
//     shortest duration of that collective on any rank (the time it
//     waited for its peers; clock-independent); vllm.step.slowest_rank and
//     vllm.step.fastest_rank (by step time: wall time minus collective
//     wait, the lowest rank on ties), vllm.step.rank_skew_ns (slowest
//     minus fastest step time) and vllm.step.rank_wall_skew_ns (the same
//     of plain wall times).
//
// Why net of the wait: the ranks of a synchronised tensor-parallel step
// all leave its last all-reduce together, so their wall times are nearly
// equal whoever was late; the late rank is the one the others waited
// for. Without matched collectives the step time is the wall time.
//
// A root built from one rank says vllm.step.ranks 1 and carries no skew:
// nothing is known of the others.
//
// The root also carries one rank's Figures (vllm.step.gpu_busy_ns, the
// insights verdicts, ...), so that a query or a dashboard on step roots
// sees a step's figures whatever the number of ranks: those of the
// slowest rank (the one the step waited for), or of the only rank known;
// vllm.step.figures_rank says whose they are. Every rank's own figures
// stay on its vllm.rank.step span.
func StepRoot(parts []RankStep) span.Span {
	ps := make([]RankStep, 0, len(parts))
	seen := make(map[span.SpanID]bool, len(parts))
	for _, p := range parts {
		if !seen[p.RankSpanID] {
			seen[p.RankSpanID] = true
			ps = append(ps, p)
		}
	}
	slices.SortStableFunc(ps, func(a, b RankStep) int { return cmp.Compare(a.Rank, b.Rank) })
	first := &ps[0]
	attrs := make([]span.Attr, 0, len(first.Attrs)+10)
	for _, a := range first.Attrs {
		attrs = append(attrs, cloneAttr(a))
	}
	n := len(ps)
	ids := make([]int64, n)
	wall := make([]int64, n)
	comm := make([]int64, n)
	start, end := first.Start, first.End
	for i := range ps {
		p := &ps[i]
		ids[i], wall[i], comm[i] = p.Rank, p.WallNs, p.CommNs
		start, end = min(start, p.Start), max(end, p.End)
	}
	attrs = append(attrs,
		span.Int("vllm.step.ranks", int64(n)),
		span.Ints("vllm.step.rank_ids", ids),
		span.Ints("vllm.step.rank_wall_ns", wall),
		span.Ints("vllm.step.rank_comm_ns", comm),
	)
	figs := first // whose Figures the root carries
	if n >= 2 {
		own := slices.Clone(wall)
		if wait, ok := collectiveWait(ps); ok {
			attrs = append(attrs, span.Ints("vllm.step.rank_collective_wait_ns", wait))
			for i := range own {
				own[i] -= wait[i]
			}
		}
		slowest, fastest := 0, 0
		for i := range own {
			if own[i] > own[slowest] {
				slowest = i
			}
			if own[i] < own[fastest] {
				fastest = i
			}
		}
		attrs = append(attrs,
			span.Int("vllm.step.slowest_rank", ids[slowest]),
			span.Int("vllm.step.fastest_rank", ids[fastest]),
			span.Int("vllm.step.rank_skew_ns", own[slowest]-own[fastest]),
			span.Int("vllm.step.rank_wall_skew_ns", slices.Max(wall)-slices.Min(wall)),
		)
		figs = &ps[slowest]
	}
	if figs.Rank >= 0 {
		attrs = append(attrs, span.Int("vllm.step.figures_rank", figs.Rank))
	}
	for _, a := range figs.Figures {
		attrs = append(attrs, cloneAttr(a))
	}
	links := cloneLinks(first.Links)
	if len(links) == 0 {
		links = nil
	}
	return span.Span{
		TraceID: first.TraceID, SpanID: first.RootID, Name: first.Name, Kind: span.KindInternal,
		Start: start, End: end, Attrs: attrs, Links: links,
	}
}

// collectiveWait returns, per part, the sum over collectives of its
// duration minus the shortest duration of that collective on any part;
// false when the parts ran different numbers of collectives (or none).
func collectiveWait(ps []RankStep) ([]int64, bool) {
	k := len(ps[0].Collectives)
	for i := range ps {
		if len(ps[i].Collectives) != k {
			return nil, false
		}
	}
	if k == 0 {
		return nil, false
	}
	wait := make([]int64, len(ps))
	for c := 0; c < k; c++ {
		shortest := ps[0].Collectives[c]
		for i := range ps {
			shortest = min(shortest, ps[i].Collectives[c])
		}
		for i := range ps {
			wait[i] += ps[i].Collectives[c] - shortest
		}
	}
	return wait, true
}

// CloneRankStep returns a copy of p that shares nothing with the
// converter's buffers, for a StepSink that keeps it past AddStep.
func CloneRankStep(p RankStep) RankStep {
	p.Collectives = slices.Clone(p.Collectives)
	p.Attrs = cloneAttrs(p.Attrs)
	p.Figures = cloneAttrs(p.Figures)
	p.Links = cloneLinks(p.Links)
	if p.Resource != nil {
		p.Resource = &span.Resource{Attrs: cloneAttrs(p.Resource.Attrs)}
	}
	return p
}

// cloneAttrs returns a deep copy of as (cloneAttr), never nil.
func cloneAttrs(as []span.Attr) []span.Attr {
	out := make([]span.Attr, len(as))
	for i, a := range as {
		out[i] = cloneAttr(a)
	}
	return out
}

// cloneLinks returns a deep copy of ls and of their attributes, never nil.
func cloneLinks(ls []span.Link) []span.Link {
	out := make([]span.Link, len(ls))
	for i, l := range ls {
		out[i] = l
		out[i].Attrs = cloneAttrs(l.Attrs)
	}
	return out
}

func cloneAttr(a span.Attr) span.Attr {
	a.Value.Strs = slices.Clone(a.Value.Strs)
	a.Value.Ints = slices.Clone(a.Value.Ints)
	return a
}

// perRank reports whether a resource attribute differs between the ranks,
// hosts or processes of one deployment, so that it must stay out of the
// step root's ids and resource.
func perRank(key string) bool {
	for _, p := range [...]string{"host.", "process.", "k8s.pod.", "k8s.node.", "container.", "os.", "gpu.", "cuda.", "cupti.", "kineto."} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	switch key {
	case "service.instance.id", "vllm.trace.file", "vllm.world_size":
		return true
	}
	return strings.HasPrefix(key, "vllm.") && strings.HasSuffix(key, "rank")
}

// sharedIdentity returns the attributes of attrs that every rank of a
// deployment shares.
func sharedIdentity(attrs []span.Attr) []span.Attr {
	out := make([]span.Attr, 0, len(attrs))
	for _, a := range attrs {
		if !perRank(a.Key) {
			out = append(out, a)
		}
	}
	return out
}

// rankInfo is what the file's resource says of its place in the run.
type rankInfo struct {
	rank, tp, pp, dp int64 // -1 = unknown
	world            int64 // 0 = unknown
}

func (b *builder) rankInfo() rankInfo {
	ri := rankInfo{rank: -1, tp: -1, pp: -1, dp: -1}
	get := func(k string, dst *int64) {
		if v, ok := span.Lookup(b.resource.Attrs, k); ok && v.Type == span.TypeInt {
			*dst = v.Num
		}
	}
	get("vllm.rank", &ri.rank)
	get("vllm.tp_rank", &ri.tp)
	get("vllm.pp_rank", &ri.pp)
	get("vllm.dp_rank", &ri.dp)
	get("vllm.world_size", &ri.world)
	return ri
}

// sharedClock reports whether the file's Unix times come from a clock the
// ranks share (the trace's own time base), not from its file name.
func (b *builder) sharedClock() bool {
	return b.st.TimeBase == "baseTimeNanoseconds" || b.st.TimeBase == "absolute"
}

// initSteps sets what the steps' cross-rank ids and roots need: the rank,
// the shared resource and the IDSource of the window's step roots (see
// the window rule above).
func (b *builder) initSteps() {
	b.ranks = b.rankInfo()
	shared := sharedIdentity(b.opts.identity())
	resAttrs := slices.Clone(shared)
	if b.ranks.world > 0 {
		resAttrs = append(resAttrs, span.Int("vllm.world_size", b.ranks.world))
	}
	// The writer's host.name (not part of the ids): on one host, the
	// common tensor-parallel case, every rank writes the same; without it
	// Jaeger would take the root and its rank spans for two hosts and
	// try to correct their clocks against each other.
	if v, ok := span.Lookup(b.resource.Attrs, "host.name"); ok {
		if _, dup := span.Lookup(resAttrs, "host.name"); !dup {
			resAttrs = append(resAttrs, span.Attr{Key: "host.name", Value: v})
		}
	}
	b.stepRes = &span.Resource{Attrs: resAttrs}
	b.commKernel = map[uint32]bool{}
	steps := b.s.steps
	if !b.sharedClock() || b.ranks.world < 2 || len(steps) == 0 {
		// No clock the ranks share, or no other rank: the window is this
		// file's alone (its own ids' seed, which holds the identity).
		key := binary.AppendUvarint([]byte(stepIDVersion+"/file"), b.ids.Seed())
		b.stepIDs = span.NewIDSource(key)
		return
	}
	key := span.AppendIdentity([]byte(stepIDVersion), shared)
	var engine []span.Attr
	for _, k := range [...]string{"vllm.instance_id", "vllm.profile.prefix"} {
		if v, ok := span.Lookup(b.resource.Attrs, k); ok {
			engine = append(engine, span.Attr{Key: k, Value: v})
		}
	}
	key = span.AppendIdentity(key, engine)
	key = binary.AppendVarint(key, b.ranks.world)
	key = binary.AppendVarint(key, b.ranks.dp)
	t := b.unix(steps[0].start)
	q := t / windowGridNs
	if t < 0 && t%windowGridNs != 0 {
		q--
	}
	key = binary.AppendVarint(key, q)
	key = binary.AppendUvarint(key, uint64(len(steps)))
	for k := range steps {
		name := b.p.in.str(steps[k].r.name)
		key = binary.AppendUvarint(key, uint64(len(name)))
		key = append(key, name...)
	}
	b.stepIDs = span.NewIDSource(key)
}

// isComm reports whether a kernel is a communication (NCCL) kernel.
func (b *builder) isComm(name uint32) bool {
	c, ok := b.commKernel[name]
	if !ok {
		c = strings.Contains(strings.ToLower(b.p.in.str(name)), "nccl")
		b.commKernel[name] = c
	}
	return c
}

// rankFigures computes the loaded step's wall time end and its
// communication kernels (durations in start order).
func (b *builder) rankFigures(t int32) (workEnd, comm int64, colls []int64) {
	v := &b.v
	st := &b.s.steps[t]
	workEnd = st.annEnd
	type coll struct{ ts, dur int64 }
	var cs []coll
	for _, i := range v.members {
		r := b.rec(i)
		workEnd = max(workEnd, r.end())
		if r.kind == kindKernel && b.isComm(r.name) {
			comm += r.dur
			cs = append(cs, coll{r.ts, r.dur})
		}
	}
	slices.SortStableFunc(cs, func(a, c coll) int { return cmp.Compare(a.ts, c.ts) })
	colls = make([]int64, len(cs))
	for k, c := range cs {
		colls[k] = c.dur
	}
	return workEnd, comm, colls
}
