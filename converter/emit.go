package converter

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/recstore"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/insights"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

const defaultBatchSize = 4096

// builder resolves structure and emits spans for one parsed trace.
type builder struct {
	p    *parser
	opts Options
	st   *Stats
	ids  span.IDSource
	s    structure
	v    traceView // the trace being emitted
	cap  capper
	sc   *recstore.Scratch

	// dropRecords lets resolve drop the record store from memory scratch
	// as it reads it (Convert sets it; a builder made again over the same
	// parser, as the benchmarks do, must not).
	dropRecords bool
	tailCap     int // bucket tail size, budget 3 tails; 0 = defaults (tests set it)

	base     int64
	resource *span.Resource

	// cross-rank steps (ranks.go): the file's rank, the step roots'
	// resource and ids, communication kernels by name
	ranks      rankInfo
	stepRes    *span.Resource
	stepIDs    span.IDSource
	commKernel map[uint32]bool

	keyNames, memKeyNames []string
	shortNames            map[uint32]string
	otherNames            map[uint32]string // GPU annotations and Python frames by name
	pyFrames              map[uint32]pyFrame
	threadIDs             map[uint32]int64 // tid/pid text id → number (absent when not numeric)

	an      *insights.Analyzer        // step verdicts; nil until the first step
	classes map[uint32]insights.Class // kernel name id → class

	// per-batch slabs, reused after each emit
	batch  span.Batch
	attrs  []span.Attr
	ints   []int64
	events []span.Event
	links  []span.Link
	argIt  recstore.ArgIter
}

func newBuilder(p *parser, opts Options, ids span.IDSource, st *Stats) *builder {
	b := &builder{
		p: p, opts: opts, st: st, ids: ids,
		shortNames: map[uint32]string{},
		otherNames: map[uint32]string{},
		pyFrames:   map[uint32]pyFrame{},
		threadIDs:  map[uint32]int64{},
	}
	b.cap.b = b
	b.sc = p.recs.Scratch
	if b.sc == nil {
		b.sc = recstore.NewScratch(nil)
		p.recs.Scratch = b.sc
	}
	if b.opts.BatchSize <= 0 {
		b.opts.BatchSize = defaultBatchSize
	}
	b.timeBase()
	b.buildResource()
	return b
}

// timeBase decides how raw ts become Unix ns and which era the file is.
func (b *builder) timeBase() {
	m := &b.p.meta
	switch {
	case m.hasBase:
		b.base = m.baseNs
		b.st.TimeBase = "baseTimeNanoseconds"
		b.st.Era = "D"
		if m.baseBeforeEvents {
			b.st.Era = "E"
		}
	case m.maxTs > 1e17: // 1e14 µs: absolute epoch µs
		b.st.TimeBase = "absolute"
		b.st.Era = "A"
		if m.fracSeen {
			b.st.Era = "B"
		}
	default:
		b.st.Era = "C"
		b.st.TimeBase = "unknown"
		if b.opts.ExportTimeNs > 0 {
			end := m.maxTs
			if m.hasWindowEnd {
				end = m.windowEnd
			}
			b.base = b.opts.ExportTimeNs - end
			b.st.TimeBase = "export_time"
		}
	}
	b.st.BaseTimeNs = b.base
}

func hasAttr(attrs []span.Attr, key string) bool {
	_, ok := span.Lookup(attrs, key)
	return ok
}

// buildResource appends what the trace says to the caller's attributes,
// for keys the caller did not set.
func (b *builder) buildResource() {
	attrs := append([]span.Attr(nil), b.opts.Resource...)
	add := func(a span.Attr) {
		if !hasAttr(attrs, a.Key) {
			attrs = append(attrs, a)
		}
	}
	m := &b.p.meta
	var devs []map[string]any
	if len(m.deviceProps) > 0 && json.Unmarshal(m.deviceProps, &devs) == nil && len(devs) > 0 {
		d := devs[0]
		if s, ok := d["name"].(string); ok {
			add(span.String("gpu.name", s))
		}
		maj, ok1 := d["computeMajor"].(float64)
		minr, ok2 := d["computeMinor"].(float64)
		if ok1 && ok2 {
			add(span.String("gpu.compute_capability", fmt.Sprintf("%d.%d", int(maj), int(minr))))
		}
		if v, ok := d["totalGlobalMem"].(float64); ok {
			add(span.Int("gpu.memory.total", int64(v)))
		}
		if v, ok := d["numSms"].(float64); ok {
			add(span.Int("gpu.sm_count", int64(v)))
		}
		add(span.Int("gpu.count", int64(len(devs))))
	}
	var dist map[string]any
	if len(m.distInfo) > 0 && json.Unmarshal(m.distInfo, &dist) == nil {
		if v, ok := asInt(dist["rank"]); ok {
			add(span.Int("vllm.rank", v))
		}
		if v, ok := asInt(dist["world_size"]); ok {
			add(span.Int("vllm.world_size", v))
		}
		if s, ok := dist["backend"].(string); ok {
			add(span.String("pytorch.distributed.backend", s))
		}
	}
	for _, kv := range [...]struct{ key, attr string }{
		{"cuda_runtime_version", "cuda.runtime.version"},
		{"cuda_driver_version", "cuda.driver.version"},
		{"cupti_version", "cupti.version"},
		{"schemaVersion", "kineto.schema_version"},
	} {
		if s, ok := m.scalars[kv.key]; ok {
			if n, ok := intOrString(s); ok {
				add(span.Int(kv.attr, n))
			} else {
				add(span.String(kv.attr, s))
			}
		}
	}
	if s, ok := m.scalars["trace_id"]; ok {
		add(span.String("kineto.trace_id", s))
	}
	if s, ok := m.scalars["host_name"]; ok && s != "" {
		add(span.String("host.name", s))
	}
	// vLLM stamps its version into the trace metadata on recent versions.
	if s, ok := m.scalars["vllm_version"]; ok && s != "" {
		add(span.String("vllm.version", s))
	}
	// process.pid: the pid of the first step annotation, else of the first
	// CPU op.
	if recs := &b.p.recs; recs.hasFirst {
		r := &recs.first.rec
		if n, ok := intOrString(b.p.in.str(r.pid)); ok {
			add(span.Int("process.pid", n))
		}
		if name, ok := b.p.procNames[r.pid]; ok {
			add(span.String("process.executable.name", b.p.in.str(name)))
		}
	}
	add(span.String("kineto.time_base", b.st.TimeBase))
	add(span.String("kineto.era", b.st.Era))
	b.resource = &span.Resource{Attrs: attrs}
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		return int64(x), true
	case string:
		return intOrString(x)
	}
	return 0, false
}

func (b *builder) unix(ns int64) int64 { return b.base + ns }

// traceID is trace t's id: a step's is the same from every rank's file
// (ranks.go), the profile trace's is the file's own.
func (b *builder) traceID(t int32) span.TraceID {
	if t == b.s.profile {
		return b.ids.TraceID(profileKey)
	}
	return b.stepIDs.TraceID(uint64(t))
}

// rootID is the id of trace t's root: a step's cross-rank root, or the
// profile root.
func (b *builder) rootID(t int32) span.SpanID {
	if t == b.s.profile {
		return b.ids.SpanID(profileKey)
	}
	return b.stepIDs.SpanID(uint64(t))
}

// topID is the parent of trace t's top-level spans: a step's
// vllm.rank.step span (the step annotation's own id), or the profile root.
func (b *builder) topID(t int32) span.SpanID {
	if t == b.s.profile {
		return b.ids.SpanID(profileKey)
	}
	return b.ids.SpanID(uint64(b.s.steps[t].r.ordinal))
}

func (b *builder) spanID(i int32) span.SpanID { return b.ids.SpanID(uint64(b.rec(i).ordinal)) }

// emitAll emits every trace: steps in order, then the profile trace.
func (b *builder) emitAll(ctx context.Context, emit func(*span.Batch) error) error {
	b.batch = span.Batch{Resource: b.resource, Scope: b.opts.Scope}
	// Size the per-batch slabs once for a full batch (about a dozen
	// attributes per span), so they do not grow by doubling while the first
	// big trace is built.
	if n := min(b.opts.BatchSize, b.p.recs.Len()) + 1; n > 64 {
		b.batch.Spans = make([]span.Span, 0, n)
		b.attrs = make([]span.Attr, 0, n*12)
	}
	b.st.Steps = len(b.s.steps)
	b.st.Traces = len(b.s.steps) + 1
	b.initSteps()
	for t := int32(0); t <= b.s.profile; t++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.load(t); err != nil {
			return err
		}
		if err := b.emitTrace(t, emit); err != nil {
			return err
		}
	}
	return nil
}

func (b *builder) flush(emit func(*span.Batch) error) error {
	if len(b.batch.Spans) == 0 {
		return nil
	}
	if err := b.p.args.Err(); err != nil {
		return &Error{Offset: -1, Reason: "reading args from Options.Spill", Err: err}
	}
	if limit := b.opts.MaxStringBytes; limit > 0 {
		b.st.StringsTruncated += truncateStrings(b.batch.Spans, limit)
	}
	b.st.Batches++
	b.st.SpansEmitted += int64(len(b.batch.Spans))
	if err := emit(&b.batch); err != nil {
		return &emitError{err}
	}
	b.batch.Spans = b.batch.Spans[:0]
	b.attrs = b.attrs[:0]
	b.ints = b.ints[:0]
	b.events = b.events[:0]
	b.links = b.links[:0]
	return nil
}

// attrsFrom returns the attributes appended to the slab since start.
func (b *builder) attrsFrom(start int) []span.Attr {
	return b.attrs[start:len(b.attrs):len(b.attrs)]
}

func (b *builder) emitTrace(t int32, emit func(*span.Batch) error) error {
	v := &b.v
	members := v.members
	kept := b.cap.apply(members)
	defer b.cap.release(members)
	traceID := b.traceID(t)
	rootID := b.rootID(t)
	topID := b.topID(t)

	// Events (instants) by the span they attach to; -1 = root.
	evs := v.events
	evTarget := func(e int32) int32 {
		p := v.ents[e].parent
		if p >= 0 && b.rec(p).flags&flagStep != 0 {
			return -1
		}
		return b.cap.nearest(p)
	}
	sort.SliceStable(evs, func(x, y int) bool { return evTarget(evs[x]) < evTarget(evs[y]) })
	eventsFor := func(target int32) []int32 {
		lo := sort.Search(len(evs), func(k int) bool { return evTarget(evs[k]) >= target })
		hi := lo
		for hi < len(evs) && evTarget(evs[hi]) == target {
			hi++
		}
		return evs[lo:hi]
	}

	root, err := b.rootSpan(t, traceID, rootID, emit)
	if err != nil {
		return err
	}
	b.addEvents(&root, eventsFor(-1))
	b.addDropped(&root, -1)
	b.batch.Spans = append(b.batch.Spans, root)
	if t < b.s.profile { // the step annotation is the rank span
		bump(&b.p.books.spans, b.s.steps[t].r.cat)
	}

	for _, i := range kept {
		if len(b.batch.Spans) >= b.opts.BatchSize {
			if err := b.flush(emit); err != nil {
				return err
			}
		}
		r := b.rec(i)
		parent := b.cap.nearest(v.ents[i].parent)
		pid := topID
		if parent >= 0 {
			pid = b.spanID(parent)
		}
		sp := span.Span{
			TraceID: traceID, SpanID: b.spanID(i), Parent: pid,
			Name: b.spanName(r), Kind: span.KindInternal,
			Start: b.unix(r.ts), End: b.unix(r.end()),
		}
		start := len(b.attrs)
		b.spanAttrs(r, v.ents[i].py)
		sp.Attrs = b.attrsFrom(start)
		b.addEvents(&sp, eventsFor(i))
		b.addDropped(&sp, i)
		b.addLinks(&sp, i)
		b.batch.Spans = append(b.batch.Spans, sp)
		bump(&b.p.books.spans, r.cat)
	}
	return b.flush(emit)
}

// addDropped puts the cap summary on a span that lost children.
func (b *builder) addDropped(sp *span.Span, i int32) {
	if !b.cap.active {
		return
	}
	d, ok := b.cap.dropped[i]
	if !ok {
		return
	}
	start := len(b.attrs)
	b.attrs = append(b.attrs, sp.Attrs...)
	b.attrs = append(b.attrs,
		span.Int("bridge.dropped_spans.count", d.count),
		span.Int("bridge.dropped_spans.duration_ns", d.dur))
	sp.Attrs = b.attrsFrom(start)
}

func (b *builder) addLinks(sp *span.Span, i int32) {
	links := b.s.links
	if len(links) == 0 {
		return
	}
	e := &b.v.ents[i]
	lo := sort.Search(len(links), func(k int) bool { return links[k].from >= e.idx })
	start := len(b.links)
	for k := lo; k < len(links) && links[k].from == e.idx; k++ {
		l := &links[k]
		tt := l.toTrace
		if tt < 0 || (tt == e.trace && !l.toStep && !b.cap.isKept(b.v.local(l.to))) {
			b.st.LinksDropped++
			continue
		}
		b.links = append(b.links, span.Link{
			TraceID: b.traceID(tt), SpanID: b.ids.SpanID(uint64(l.toOrdinal)),
			Attrs: []span.Attr{span.String("kineto.flow", "fwdbwd")},
		})
		b.st.FwdBwdLinks++
	}
	if len(b.links) > start {
		sp.Links = b.links[start:len(b.links):len(b.links)]
	}
}

func (b *builder) addEvents(sp *span.Span, evs []int32) {
	if len(evs) == 0 {
		return
	}
	start := len(b.events)
	for _, e := range evs {
		r := b.rec(e)
		a := len(b.attrs)
		if cat := b.catName(r); cat != "" {
			b.attrs = append(b.attrs, span.String("kineto.category", cat))
		}
		if r.ph != 'i' && r.ph != 'I' {
			b.attrs = append(b.attrs, span.String("kineto.phase", string(rune(r.ph))))
		}
		b.argAttrs(r, r.flags&flagMemory != 0)
		b.events = append(b.events, span.Event{Time: b.unix(r.ts), Name: b.p.in.str(r.name), Attrs: b.attrsFrom(a)})
		bump(&b.p.books.events, r.cat)
	}
	b.st.SpanEvents += int64(len(evs))
	sp.Events = b.events[start:len(b.events):len(b.events)]
}

func (b *builder) catName(r *record) string { return b.p.in.str(r.cat) }

func (b *builder) spanName(r *record) string {
	name := b.p.in.str(r.name)
	switch r.kind {
	case kindKernel:
		s, ok := b.shortNames[r.name]
		if !ok {
			s = shortKernelName(name)
			b.shortNames[r.name] = s
		}
		name = s
	case kindGPUAnnot, kindPython:
		s, ok := b.otherNames[r.name]
		if !ok {
			s = otherSpanName(r.kind, name)
			b.otherNames[r.name] = s
		}
		name = s
	}
	if name == "" {
		name = b.catName(r)
	}
	if name == "" {
		name = "kineto.event"
	}
	return name
}

func (b *builder) number(id uint32) (int64, bool) {
	if n, ok := b.threadIDs[id]; ok {
		return n, n >= 0
	}
	n, err := strconv.ParseInt(b.p.in.str(id), 10, 64)
	if err != nil {
		b.threadIDs[id] = -1
		return 0, false
	}
	b.threadIDs[id] = n
	return n, n >= 0
}

// spanAttrs appends r's attributes; py is the interned name of the Python
// frame folded into it (-1 = none).
func (b *builder) spanAttrs(r *record, py int32) {
	b.attrs = append(b.attrs, span.String("kineto.category", b.catName(r)))
	if r.kind.gpu() {
		if r.flags&flagDevice == 0 {
			if n, ok := b.number(r.pid); ok {
				b.attrs = append(b.attrs, span.Int("gpu.device.id", n))
			}
		}
		if r.flags&flagStream == 0 {
			if n, ok := b.number(r.tid); ok {
				b.attrs = append(b.attrs, span.Int("gpu.stream.id", n))
			}
		}
		if r.kind == kindKernel {
			b.attrs = append(b.attrs, span.String("cuda.kernel.name", b.p.in.str(r.name)))
		}
		if r.kind == kindGPUAnnot {
			if name := b.p.in.str(r.name); name != "" && b.spanName(r) == GPUStepSpanName {
				b.attrs = append(b.attrs, span.String("vllm.step.name", name))
			}
		}
	} else {
		if n, ok := b.number(r.tid); ok {
			b.attrs = append(b.attrs, span.Int("thread.id", n))
		}
		if name, ok := b.p.threadNames[uint64(r.pid)<<32|uint64(r.tid)]; ok {
			b.attrs = append(b.attrs, span.String("thread.name", b.p.in.str(name)))
		}
		if r.kind == kindPython {
			b.codeAttrs(r.name)
		} else if py >= 0 {
			b.codeAttrs(uint32(py))
		}
	}
	b.argAttrs(r, false)
}

func (b *builder) codeAttrs(name uint32) {
	f, ok := b.pyFrames[name]
	if !ok {
		f = parsePythonFrame(b.p.in.str(name))
		b.pyFrames[name] = f
	}
	b.attrs = append(b.attrs, span.String("code.function.name", f.function))
	if f.file != "" {
		b.attrs = append(b.attrs, span.String("code.file.path", f.file), span.Int("code.line.number", f.line))
	}
}

// argAttrs appends r's args as attributes.
func (b *builder) argAttrs(r *record, memory bool) {
	b.argIt.Reset(b.p.args.Get(r.args, r.argLen))
	var v recstore.ArgValue
	for b.argIt.Next(&v) {
		key := b.attrName(v.Key, memory)
		switch v.Typ {
		case recstore.ArgInt:
			b.attrs = append(b.attrs, span.Int(key, v.Num))
		case recstore.ArgBool:
			b.attrs = append(b.attrs, span.Bool(key, v.Num != 0))
		case recstore.ArgFloat:
			if f, err := strconv.ParseFloat(string(v.Text), 64); err == nil {
				b.attrs = append(b.attrs, span.Float(key, f))
			} else {
				b.attrs = append(b.attrs, span.String(key, string(v.Text)))
			}
		case recstore.ArgStr, recstore.ArgRaw, recstore.ArgNonNum:
			b.attrs = append(b.attrs, span.String(key, b.p.in.str(v.ID)))
		case recstore.ArgIntArr:
			start := len(b.ints)
			b.ints = append(b.ints, v.Ints...)
			b.attrs = append(b.attrs, span.Ints(key, b.ints[start:len(b.ints):len(b.ints)]))
		}
	}
}

// rootSpan builds the profile root, or a step's vllm.rank.step span after
// handing the step's cross-rank part (with what the Linker said) to
// Options.Steps or, without one, emitting the step's root itself.
func (b *builder) rootSpan(t int32, traceID span.TraceID, rootID span.SpanID, emit func(*span.Batch) error) (span.Span, error) {
	s, v := &b.s, &b.v
	start := len(b.attrs)
	if t == s.profile {
		m := &b.p.meta
		lo, hi := m.minTs, m.maxTs
		if m.hasWindowStart && m.windowStart < lo {
			lo = m.windowStart
		}
		if m.hasWindowEnd && m.windowEnd > hi {
			hi = m.windowEnd
		}
		hi = max(hi, v.maxEnd, lo)
		b.attrs = append(b.attrs,
			span.Int("vllm.profile.step_count", int64(len(s.steps))),
			span.Int("vllm.profile.event_count", b.p.nEvents),
			span.Int("vllm.profile.kernel_count", int64(s.fileKernels)),
			span.Int("vllm.profile.gpu_busy_ns", s.fileBusy),
			span.Int("vllm.profile.orphan_gpu_count", b.st.OrphanGPU),
			span.Int("vllm.profile.memory_event_count", b.st.MemoryEvents),
			span.Int("vllm.profile.trace_kernel_count", int64(v.kernelCount)),
			span.Int("vllm.profile.trace_gpu_busy_ns", v.gpuBusy),
			span.Int("vllm.profile.trace_cpu_ns", v.cpuNs),
			span.String("kineto.time_base", b.st.TimeBase),
		)
		return span.Span{
			TraceID: traceID, SpanID: rootID, Name: "vllm.profile", Kind: span.KindInternal,
			Start: b.unix(lo), End: b.unix(hi), Attrs: b.attrsFrom(start),
		}, nil
	}
	st := &s.steps[t]
	r := &st.r
	end := max(st.end, v.maxEnd)
	busy := v.gpuBusy
	a := st.ann
	workEnd, comm, colls := b.rankFigures(t)

	// This rank's step figures and verdicts: on its vllm.rank.step span,
	// and (the slowest rank's, see StepRoot) on the root. They come first
	// because the Linker takes the bottleneck.
	b.attrs = append(b.attrs,
		span.Int("vllm.step.kernel_count", int64(v.kernelCount)),
		span.Int("vllm.step.gpu_busy_ns", busy),
		span.Int("vllm.step.gpu_idle_ns", max(0, end-st.start-busy)),
		span.Int("vllm.step.cpu_ns", v.cpuNs),
		span.Int("vllm.step.annotation_duration_ns", r.dur),
	)
	var bottleneck string
	if !b.opts.NoInsights {
		verdict := b.stepInsights(st.start, end, a)
		b.attrs = verdict.AppendAttrs(b.attrs)
		bottleneck = verdict.Bottleneck.String()
	}
	figures := b.attrs[start:len(b.attrs):len(b.attrs)]

	// The root's rank-independent part.
	rootAttrs := make([]span.Attr, 0, 16)
	rootAttrs = append(rootAttrs,
		span.Int("vllm.step.index", int64(t)),
		span.String("vllm.step.name", b.p.in.str(r.name)),
	)
	rootAttrs = a.AppendAttrs(rootAttrs)
	var rootLinks []span.Link
	if b.opts.Linker != nil {
		link := b.opts.Linker.LinkStep(enginestep.Step{
			Index: int(t), Name: b.p.in.str(r.name), Annotation: a,
			Start: b.unix(st.start), End: b.unix(st.end),
			TraceID: traceID, RootSpanID: rootID, Resource: b.resource,
			KernelCount: v.kernelCount, GPUBusyNs: busy, Bottleneck: bottleneck,
		})
		if len(link.RequestIDs) > 0 {
			rootAttrs = append(rootAttrs, span.Strings("vllm.step.request_ids", link.RequestIDs))
		}
		rootLinks = link.Links
		if lim := b.opts.MaxLinksPerSpan; lim > 0 && len(rootLinks) > lim {
			rootAttrs = append(rootAttrs, span.Int("bridge.dropped_links.count", int64(len(rootLinks)-lim)))
			b.st.LinksDropped += int64(len(rootLinks) - lim)
			rootLinks = rootLinks[:lim]
		}
	}
	part := RankStep{
		TraceID: traceID, RootID: rootID, RankSpanID: b.topID(t),
		Rank: b.ranks.rank, WorldSize: b.ranks.world,
		Start: b.unix(st.start), End: b.unix(end), WallNs: workEnd - st.start,
		CommNs: comm, Collectives: colls,
		Name: string(a.Kind), Attrs: rootAttrs, Figures: figures, Links: rootLinks, Resource: b.stepRes,
	}
	if b.opts.Steps != nil {
		if err := b.opts.Steps.AddStep(part); err != nil {
			return span.Span{}, &emitError{err}
		}
	} else if err := b.emitRoot(StepRoot([]RankStep{part}), emit); err != nil {
		return span.Span{}, err
	}

	// This rank's span: the step annotation.
	for _, k := range [...]struct {
		key string
		v   int64
	}{{"vllm.rank", b.ranks.rank}, {"vllm.tp_rank", b.ranks.tp}, {"vllm.pp_rank", b.ranks.pp}, {"vllm.dp_rank", b.ranks.dp}} {
		if k.v >= 0 {
			b.attrs = append(b.attrs, span.Int(k.key, k.v))
		}
	}
	b.attrs = append(b.attrs,
		span.Int("vllm.step.index", int64(t)),
		span.String("vllm.step.kind", a.Kind.Short()),
		span.Int("vllm.step.wall_ns", part.WallNs),
		span.Int("vllm.step.comm_ns", comm),
		span.Int("vllm.step.collective_count", int64(len(colls))),
		span.Int("vllm.step.span_count", int64(len(v.members)+1)),
	)
	py := int32(-1)
	if v.step >= 0 {
		py = v.ents[v.step].py
	}
	b.spanAttrs(r, py)
	return span.Span{
		TraceID: traceID, SpanID: part.RankSpanID, Parent: rootID, Name: RankStepSpanName, Kind: span.KindInternal,
		Start: part.Start, End: part.End, Attrs: b.attrsFrom(start),
	}, nil
}

// RankStepSpanName names each rank's part of a step, the child of the
// step's root.
const RankStepSpanName = "vllm.rank.step"

// emitRoot emits a step's root alone in a batch of the step roots'
// resource.
func (b *builder) emitRoot(root span.Span, emit func(*span.Batch) error) error {
	rb := span.Batch{Resource: b.stepRes, Scope: b.opts.Scope, Spans: []span.Span{root}}
	if limit := b.opts.MaxStringBytes; limit > 0 {
		b.st.StringsTruncated += truncateStrings(rb.Spans, limit)
	}
	b.st.Batches++
	b.st.SpansEmitted++
	b.st.StepRoots++
	if err := emit(&rb); err != nil {
		return &emitError{err}
	}
	return nil
}

// truncateStrings cuts every span name and string value longer than limit
// bytes to at most limit bytes, at a UTF-8 boundary, and returns how many
// it cut. One pathological string (a 10 MB name, a 100 MB arg) would
// otherwise make a span larger than any OTLP receiver accepts, and its file
// could never be delivered.
func truncateStrings(spans []span.Span, limit int) int64 {
	var n int64
	cut := func(s *string) {
		if len(*s) > limit {
			*s = truncateUTF8(*s, limit)
			n++
		}
	}
	attrs := func(as []span.Attr) {
		for i := range as {
			v := &as[i].Value
			switch v.Type {
			case span.TypeString:
				cut(&v.Str)
			case span.TypeStringSlice:
				for j := range v.Strs {
					cut(&v.Strs[j])
				}
			}
		}
	}
	for i := range spans {
		sp := &spans[i]
		cut(&sp.Name)
		cut(&sp.StatusMessage)
		attrs(sp.Attrs)
		for j := range sp.Events {
			cut(&sp.Events[j].Name)
			attrs(sp.Events[j].Attrs)
		}
		for j := range sp.Links {
			attrs(sp.Links[j].Attrs)
		}
	}
	return n
}

// truncateUTF8 returns the longest prefix of s of at most limit bytes that
// does not split a UTF-8 sequence.
func truncateUTF8(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && i > limit-4 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
