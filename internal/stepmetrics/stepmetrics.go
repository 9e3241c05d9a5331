package stepmetrics

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// ScopeName is the instrumentation scope of the instruments.
const ScopeName = "vllm-otel-bridge/metrics"

// Instrument names. With the Prometheus exporter's default translation
// they become vllm_otel_bridge_step_duration_seconds,
// vllm_otel_bridge_step_gpu_busy_ratio, vllm_otel_bridge_step_host_wait_ratio,
// vllm_otel_bridge_step_gpu_time_seconds_total and
// vllm_otel_bridge_request_gpu_attributed_seconds.
const (
	StepDuration         = "vllm_otel_bridge.step.duration"
	StepGPUBusyRatio     = "vllm_otel_bridge.step.gpu_busy_ratio"
	StepHostWaitRatio    = "vllm_otel_bridge.step.host_wait_ratio"
	StepGPUTime          = "vllm_otel_bridge.step.gpu_time"
	RequestGPUAttributed = "vllm_otel_bridge.request.gpu_attributed"
)

// Label keys (metric attributes).
const (
	LabelStepKind   = "step_kind"
	LabelBottleneck = "bottleneck"
	LabelClass      = "class"
	LabelRank       = "rank"
)

// Span attribute names read (issue 13's contract; the converter writes
// them on every step root, the linker on request spans).
const (
	attrGPUBusy     = "vllm.step.gpu_busy_ns"
	attrHostWait    = "vllm.step.gpu_idle.host_wait_ns"
	attrBottleneck  = "vllm.step.bottleneck"
	attrGPUTimeFmt  = "vllm.step.gpu_time.%s_ns"
	attrAttributed  = "vllm.request.gpu_attributed_ns"
	attrAttribTotal = "vllm.request.gpu_attributed_total_ns"
	attrRank        = "vllm.rank"
	rankStepSpan    = "vllm.rank.step"
	attrStepKind    = "vllm.step.kind"
	requestStepSpan = "vllm.request.step"
	unknown         = "unknown"
)

// Classes are the GPU time classes, in the order of issue 13: each is the
// class label of vllm_otel_bridge.step.gpu_time, read from
// vllm.step.gpu_time.<class>_ns.
var Classes = [...]string{"gemm", "attention", "communication", "memcpy", "memset", "elementwise", "norm", "sampling", "other"}

// StepKinds are the step kind label values (the step root's name without
// "vllm.step."); any other root name is "unknown".
var StepKinds = [...]string{"prefill", "decode", "mixed", "empty", "execute", "profiler_step"}

// Bottlenecks are the bottleneck label values (vllm.step.bottleneck); a
// step without one, or with a value outside this list, is "unknown".
var Bottlenecks = [...]string{"gpu_compute", "launch_bound", "communication", "memory_copy", "host"}

// Bucket boundaries of the histograms.
var (
	// DurationBuckets are seconds, 0.5 ms to 5 s: decode steps take a few
	// ms, prefill steps of long prompts up to seconds.
	DurationBuckets = []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5}
	// RatioBuckets are fractions of a step's wall time.
	RatioBuckets = []float64{0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1}
	// AttributedBuckets are seconds of GPU time per request, 0.1 ms to 100 s.
	AttributedBuckets = []float64{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 50, 100}
)

// Recorder records measurements from span batches on instruments of one
// MeterProvider. It is safe for concurrent use.
type Recorder struct {
	duration, busy, hostWait, attributed metric.Float64Histogram
	gpuTime                              metric.Float64Counter
	classKeys                            [len(Classes)]string

	// recorded remembers the requests whose attributed GPU time
	// was recorded, so a request is one measurement however many batches
	// its spans come in.
	mu       sync.Mutex
	recorded recentSet
}

// recentRequests bounds Recorder.recorded: a request whose spans come in
// batches further apart than this many other requests may be counted
// twice (the linker writes a request's spans together once it finished).
const recentRequests = 1 << 14

// New creates the instruments on mp's meter for ScopeName.
func New(mp metric.MeterProvider, version string) (*Recorder, error) {
	m := mp.Meter(ScopeName, metric.WithInstrumentationVersion(version))
	r := &Recorder{}
	var err error
	mk := func(name, unit, desc string, buckets []float64) metric.Float64Histogram {
		if err != nil {
			return nil
		}
		var h metric.Float64Histogram
		h, err = m.Float64Histogram(name, metric.WithUnit(unit), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(buckets...))
		if err != nil {
			err = fmt.Errorf("stepmetrics: instrument %s: %w", name, err)
		}
		return h
	}
	r.duration = mk(StepDuration, "s", "Wall time of profiled engine steps (step root span length).", DurationBuckets)
	r.busy = mk(StepGPUBusyRatio, "1", "Fraction of a profiled step's wall time the GPU was busy (vllm.step.gpu_busy_ns over the step's length).", RatioBuckets)
	r.hostWait = mk(StepHostWaitRatio, "1", "Fraction of a profiled step's wall time the GPU waited for the host to launch work (vllm.step.gpu_idle.host_wait_ns over the step's length).", RatioBuckets)
	r.attributed = mk(RequestGPUAttributed, "s", "GPU busy time attributed to one request over its profiled steps (vllm.request.gpu_attributed_ns).", AttributedBuckets)
	if err != nil {
		return nil, err
	}
	r.gpuTime, err = m.Float64Counter(StepGPUTime, metric.WithUnit("s"), metric.WithDescription("GPU time of profiled steps by kernel class (vllm.step.gpu_time.<class>_ns)."))
	if err != nil {
		return nil, fmt.Errorf("stepmetrics: instrument %s: %w", StepGPUTime, err)
	}
	for i, c := range Classes {
		r.classKeys[i] = fmt.Sprintf(attrGPUTimeFmt, c)
	}
	return r, nil
}

// step is what one step root gives: read out of the batch at once, since
// the converter reuses a batch's memory after the callback returns.
type step struct {
	trace              span.TraceID
	span               span.SpanID
	kind, bottleneck   string
	rank               int64
	hasRank            bool
	durNs              int64
	busyNs, hostWaitNs int64
	hasBusy, hasWait   bool
	classNs            [len(Classes)]int64
	hasClass           [len(Classes)]bool
}

// File collects the step measurements of one trace file's batches, to be
// recorded once the file's spans were acknowledged (Commit): a file that
// fails and is sent again is then counted once. A nil *File collects
// nothing.
type File struct {
	r     *Recorder
	steps []step
}

// NewFile starts collecting one trace file's measurements; a nil
// Recorder gives a nil *File, which collects nothing.
func (r *Recorder) NewFile() *File {
	if r == nil {
		return nil
	}
	return &File{r: r}
}

// Add reads the steps out of b: each rank's vllm.rank.step span, which
// carries that rank's figures and is written once per rank and step
// (the step's root, vllm.step.<kind>, may be written again as more ranks
// are converted, so counting roots would count a step more than once).
func (f *File) Add(b *span.Batch) {
	if f == nil {
		return
	}
	var rank int64
	hasRank := false
	if b.Resource != nil {
		if v, ok := span.Lookup(b.Resource.Attrs, attrRank); ok && v.Type == span.TypeInt {
			rank, hasRank = v.Num, true
		}
	}
	for i := range b.Spans {
		s := &b.Spans[i]
		if s.Name != rankStepSpan {
			continue
		}
		kind := unknown
		if v, ok := span.Lookup(s.Attrs, attrStepKind); ok && v.Type == span.TypeString {
			kind = stepKind(v.Str)
		}
		st := step{trace: s.TraceID, span: s.SpanID, kind: kind, bottleneck: unknown,
			rank: rank, hasRank: hasRank, durNs: max(0, s.End-s.Start)}
		if v, ok := span.Lookup(s.Attrs, attrBottleneck); ok && v.Type == span.TypeString && slices.Contains(Bottlenecks[:], v.Str) {
			st.bottleneck = v.Str
		}
		st.busyNs, st.hasBusy = intAttr(s.Attrs, attrGPUBusy)
		st.hostWaitNs, st.hasWait = intAttr(s.Attrs, attrHostWait)
		for c, key := range f.r.classKeys {
			st.classNs[c], st.hasClass[c] = intAttr(s.Attrs, key)
		}
		f.steps = append(f.steps, st)
	}
}

// Commit records what Add collected and forgets it.
func (f *File) Commit(ctx context.Context) {
	if f == nil {
		return
	}
	for i := range f.steps {
		f.r.recordStep(ctx, &f.steps[i])
	}
	f.steps = f.steps[:0]
}

// RecordRequests records the attributed GPU time of the requests whose
// spans are in b (the linker's, which belong to no trace file), once per
// request: from the llm_request root the linker writes
// (vllm.request.gpu_attributed_ns, the sum over its steps) or from a
// request-step span's vllm.request.gpu_attributed_total_ns (the same sum,
// and the only one for a request under vLLM's own llm_request, which the
// bridge forwards but does not write; a request-step span's
// vllm.request.gpu_attributed_ns is one step's share, not a request). A
// request is its llm_request span: the root's trace and span id, a
// request-step span's trace and parent id (a trace may hold several
// requests when the client sent a trace context); one of the last
// recentRequests recorded is not recorded again when more of its spans
// come later. A nil Recorder records nothing.
func (r *Recorder) RecordRequests(ctx context.Context, b *span.Batch) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range b.Spans {
		s := &b.Spans[i]
		key, attr := requestKey{s.TraceID, s.SpanID}, attrAttributed
		if s.Name == requestStepSpan {
			key, attr = requestKey{s.TraceID, s.Parent}, attrAttribTotal
		}
		// The exemplar names the request's llm_request span.
		if ns, ok := intAttr(s.Attrs, attr); ok && r.recorded.add(key) {
			r.attributed.Record(withSpan(ctx, key.trace, key.span), float64(ns)/1e9)
		}
	}
}

// requestKey names a request by its llm_request span.
type requestKey struct {
	trace span.TraceID
	span  span.SpanID
}

// recentSet is a set of the last recentRequests requests added.
type recentSet struct {
	has  map[requestKey]bool
	ring []requestKey
	next int
}

// add adds id and reports whether it was new.
func (s *recentSet) add(id requestKey) bool {
	if s.has[id] {
		return false
	}
	if s.has == nil {
		s.has = make(map[requestKey]bool)
	}
	if len(s.ring) < recentRequests {
		s.ring = append(s.ring, id)
	} else {
		delete(s.has, s.ring[s.next])
		s.ring[s.next] = id
		s.next = (s.next + 1) % recentRequests
	}
	s.has[id] = true
	return true
}

func (r *Recorder) recordStep(ctx context.Context, st *step) {
	ctx = withSpan(ctx, st.trace, st.span)
	attrs := []attribute.KeyValue{attribute.String(LabelStepKind, st.kind), attribute.String(LabelBottleneck, st.bottleneck)}
	if st.hasRank {
		attrs = append(attrs, attribute.Int64(LabelRank, st.rank))
	}
	set := metric.WithAttributeSet(attribute.NewSet(attrs...))
	r.duration.Record(ctx, float64(st.durNs)/1e9, set)
	if st.durNs > 0 {
		if st.hasBusy {
			r.busy.Record(ctx, float64(st.busyNs)/float64(st.durNs), set)
		}
		if st.hasWait {
			r.hostWait.Record(ctx, float64(st.hostWaitNs)/float64(st.durNs), set)
		}
	}
	// The counter leaves the bottleneck out: class × kind × rank is
	// enough series.
	base := []attribute.KeyValue{attribute.String(LabelStepKind, st.kind)}
	if st.hasRank {
		base = append(base, attribute.Int64(LabelRank, st.rank))
	}
	for c, cls := range Classes {
		if !st.hasClass[c] {
			continue
		}
		kv := append(base[:len(base):len(base)], attribute.String(LabelClass, cls))
		r.gpuTime.Add(ctx, float64(st.classNs[c])/1e9, metric.WithAttributeSet(attribute.NewSet(kv...)))
	}
}

// withSpan is ctx carrying the exported span as a remote, sampled span
// context: the SDK's trace_based exemplar filter then offers the
// measurement to the reservoir, and the exemplar names the span's trace.
func withSpan(ctx context.Context, tr span.TraceID, sp span.SpanID) context.Context {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID(tr), SpanID: trace.SpanID(sp), TraceFlags: trace.FlagsSampled, Remote: true,
	})
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// stepKind is the step kind label of a vllm.step.kind value.
func stepKind(name string) string {
	if slices.Contains(StepKinds[:], name) {
		return name
	}
	return unknown
}

// intAttr reads an integer attribute, negative values as absent (a
// duration is never negative).
func intAttr(attrs []span.Attr, key string) (int64, bool) {
	v, ok := span.Lookup(attrs, key)
	if !ok || v.Type != span.TypeInt || v.Num < 0 {
		return 0, false
	}
	return v.Num, true
}
