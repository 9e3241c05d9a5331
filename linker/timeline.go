package linker

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker/vllmlog"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// TimelineOptions bounds what a Timeline keeps.
type TimelineOptions struct {
	// MaxRequests caps the requests kept; the least recently updated go
	// first. Default 100000.
	MaxRequests int `yaml:"max_requests"`
	// MaxIterations caps the Iteration(i) records kept. Default 200000.
	// Not a user key.
	MaxIterations int `yaml:"-"`
	// Retention drops requests and iterations not updated for this long,
	// measured on the sources' own clock (the newest record time seen), so
	// an offline conversion behaves like a live one. Default 15 minutes.
	Retention time.Duration `yaml:"retention"`
}

func (o *TimelineOptions) defaults() {
	if o.MaxRequests <= 0 {
		o.MaxRequests = 100000
	}
	if o.MaxIterations <= 0 {
		o.MaxIterations = 200000
	}
	if o.Retention <= 0 {
		o.Retention = 15 * time.Minute
	}
}

// ErrNoRequestID is returned for an llm_request span without
// gen_ai.request.id.
var ErrNoRequestID = errors.New("linker: llm_request span without gen_ai.request.id")

// Timeline holds what is known about recent requests, merged from every
// source. It is safe for concurrent use.
type Timeline struct {
	mu      sync.Mutex
	opts    TimelineOptions
	reqs    map[string]*reqState
	list    []*reqState // the same requests, for fast scans
	iters   map[iterKey]*iterRec
	streams map[string]*streamState
	markers []profileMarker
	water   [SourceOTLP + 1]int64
	newest  int64
	seq     int64
	adds    int
	version uint64
}

// Field indexes for per-field source ranking.
const (
	fArrival = iota
	fScheduled
	fFirst
	fFinish
	fUsage
	fSpan
	nFields
)

type iterKey struct {
	proc         string
	epoch, index int
}

type iterRef struct {
	key iterKey
	ok  bool
}

type iterRec struct {
	vllmlog.Iteration
	key       iterKey
	time, res int64
}

// iterRefs holds, per engine process, the last Iteration(i) line seen
// before a record in its stream (with data parallelism each EngineCore_DPn
// counts its own iterations).
type iterRefs []iterRef

func (rs iterRefs) forProc(proc string, epoch int) (iterRef, bool) {
	for _, r := range rs {
		if r.key.proc == proc && r.key.epoch == epoch {
			return r, true
		}
	}
	return iterRef{}, false
}

type streamState struct {
	last      iterRefs
	epoch     map[string]int
	lastIndex map[string]int
}

// profileMarker is a /start_profile or /stop_profile access-log line.
type profileMarker struct {
	kind      vllmlog.Kind
	seq, time int64
	stream    string
}

const maxMarkers = 256

type reqState struct {
	Request
	src       [nFields]Source
	res       [nFields]int64
	seq       int64  // order of the arrival line, for first-come-first-served ties
	finishSeq int64  // order of the line that said the request finished
	finishLog string // the log that line came from
	// logSeq and logStream place the request's first arrival line in its
	// log: within one log, line order is arrival order, finer than any
	// timestamp.
	logSeq      int64
	logStream   string
	arrivalIter iterRefs
	finishIter  iterRefs
	touched     int64
}

// NewTimeline returns an empty timeline.
func NewTimeline(opts TimelineOptions) *Timeline {
	opts.defaults()
	return &Timeline{opts: opts, reqs: make(map[string]*reqState),
		iters: make(map[iterKey]*iterRec), streams: make(map[string]*streamState)}
}

func (t *Timeline) get(id string) *reqState {
	r := t.reqs[id]
	if r == nil {
		r = &reqState{Request: Request{ID: id, PromptTokens: -1, CompletionTokens: -1, MaxTokens: -1}}
		t.reqs[id] = r
		t.list = append(t.list, r)
	}
	return r
}

// set stores v in field f when src is at least as good as what set it.
func (r *reqState) set(f int, v *int64, val int64, src Source, res int64) {
	if val == 0 || src < r.src[f] {
		return
	}
	if src == r.src[f] && *v != 0 && f == fArrival && val > *v {
		return // keep the earliest arrival line (Received before Added)
	}
	*v, r.src[f], r.res[f] = val, src, res
	if src > r.Source {
		r.Source = src
	}
}

// AddLogRecord merges one parsed log record. stream names the log it came
// from (a file path); records of one stream must be added in file order,
// because the position of request lines between Iteration(i) lines is
// evidence. src is SourceTextLog or SourceJSONLog.
func (t *Timeline) AddLogRecord(stream string, src Source, rec vllmlog.Record) {
	if src != SourceTextLog && src != SourceJSONLog {
		src = SourceTextLog
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	t.version++
	st := t.streams[stream]
	if st == nil {
		st = &streamState{epoch: map[string]int{}, lastIndex: map[string]int{}}
		t.streams[stream] = st
	}
	if rec.Time > t.water[src] {
		t.water[src] = rec.Time
	}
	if rec.Time > t.newest {
		t.newest = rec.Time
	}
	res := rec.Resolution
	if rec.Kind == vllmlog.KindProfileStart || rec.Kind == vllmlog.KindProfileStop {
		if len(t.markers) >= maxMarkers {
			t.markers = append(t.markers[:0], t.markers[1:]...)
		}
		t.markers = append(t.markers, profileMarker{kind: rec.Kind, seq: t.seq, time: rec.Time, stream: stream})
		return
	}
	if rec.Kind == vllmlog.KindIteration {
		it := rec.Iteration
		if last, ok := st.lastIndex[rec.Process]; ok && it.Index < last {
			st.epoch[rec.Process]++ // the engine restarted
		}
		st.lastIndex[rec.Process] = it.Index
		k := iterKey{proc: rec.Process, epoch: st.epoch[rec.Process], index: it.Index}
		t.iters[k] = &iterRec{Iteration: it, key: k, time: rec.Time, res: res}
		ref := iterRef{key: k, ok: true}
		replaced := false
		for i := range st.last {
			if st.last[i].key.proc == k.proc {
				st.last[i], replaced = ref, true
			}
		}
		if !replaced {
			st.last = append(st.last, ref)
		}
		t.maybePrune()
		return
	}
	for _, raw := range rec.RequestIDs {
		id := raw
		internal := ""
		if rec.Kind == vllmlog.KindAdded || (rec.Kind == vllmlog.KindAborted && len(rec.RequestIDs) > 0 && t.reqs[raw] == nil) {
			if t.reqs[raw] == nil {
				id = ExternalID(raw)
			}
			internal = raw
		}
		r := t.get(id)
		if internal != "" && internal != id {
			r.InternalID = internal
		}
		r.touched = max(r.touched, rec.Time)
		if rec.Task != "" {
			r.Task = rec.Task
		}
		if src > r.Source {
			r.Source = src
		}
		switch rec.Kind {
		case vllmlog.KindReceived, vllmlog.KindAdded:
			if r.seq == 0 || (rec.Kind == vllmlog.KindReceived && src >= r.src[fArrival]) {
				r.seq = t.seq
			}
			if r.logSeq == 0 || (rec.Kind == vllmlog.KindReceived && r.logStream == stream) {
				r.logSeq, r.logStream = t.seq, stream
			}
			if r.arrivalIter == nil || rec.Kind == vllmlog.KindAdded {
				r.arrivalIter = append(iterRefs{}, st.last...)
			}
			r.set(fArrival, &r.Arrival, rec.Time, src, res)
			if rec.MaxTokens >= 0 {
				r.MaxTokens = rec.MaxTokens
			}
			if rec.PromptTokens >= 0 && r.src[fUsage] <= src {
				r.PromptTokens = rec.PromptTokens
			}
			t.mergeParams(r, rec)
		case vllmlog.KindGenerated, vllmlog.KindFinished, vllmlog.KindAborted, vllmlog.KindFailed:
			if r.src[fFinish] < SourceOTLP && (r.Finish == 0 || src > r.src[fFinish]) {
				r.finishIter = append(iterRefs{}, st.last...)
			}
			if r.Finish == 0 || src > r.src[fFinish] {
				r.set(fFinish, &r.Finish, rec.Time, src, res)
				r.finishSeq, r.finishLog = t.seq, stream
			}
			if rec.Kind == vllmlog.KindAborted || rec.Kind == vllmlog.KindFailed {
				r.Aborted = true
			}
			if rec.FinishReason != "" {
				r.FinishReason = rec.FinishReason
			}
			if rec.Kind == vllmlog.KindGenerated && rec.OutputTokens >= 0 && r.src[fUsage] <= src {
				r.CompletionTokens = rec.OutputTokens
			}
		case vllmlog.KindDelta:
			// Still running; nothing to record beyond the touch.
		}
	}
	t.maybePrune()
}

func (t *Timeline) mergeParams(r *reqState, rec vllmlog.Record) {
	if r.src[fSpan] == SourceOTLP {
		return // the span's attributes are better
	}
	add := func(a span.Attr) {
		for i := range r.Attrs {
			if r.Attrs[i].Key == a.Key {
				r.Attrs[i] = a
				return
			}
		}
		r.Attrs = append(r.Attrs, a)
	}
	add(span.String("gen_ai.request.id", r.ID))
	if rec.MaxTokens >= 0 {
		add(span.Int("gen_ai.request.max_tokens", int64(rec.MaxTokens)))
	}
	if rec.Temperature >= 0 {
		add(span.Float("gen_ai.request.temperature", rec.Temperature))
	}
	if rec.TopP >= 0 {
		add(span.Float("gen_ai.request.top_p", rec.TopP))
	}
	if rec.N >= 0 {
		add(span.Int("gen_ai.request.n", int64(rec.N)))
	}
	if rec.PromptTokens >= 0 {
		add(span.Int("gen_ai.usage.prompt_tokens", int64(rec.PromptTokens)))
	}
}

// AddLLMRequestSpan merges one of vLLM's llm_request spans: its trace and
// span ids, parent, start and end (Unix ns) and attributes. The request id
// is gen_ai.request.id. Scheduled, first-token and last-token times are
// derived from the gen_ai.latency.* attributes when present; only the
// attributes vllmlog.IsMetadataAttr lets through are kept. This is the
// entry point for the live OTLP receiver.
func (t *Timeline) AddLLMRequestSpan(traceID span.TraceID, spanID, parentSpanID span.SpanID, start, end int64, attrs []span.Attr) error {
	v, ok := span.Lookup(attrs, "gen_ai.request.id")
	if !ok || v.Type != span.TypeString || v.Str == "" {
		return ErrNoRequestID
	}
	if traceID.IsZero() || spanID.IsZero() {
		return fmt.Errorf("linker: llm_request span for %q has a zero trace or span id", v.Str)
	}
	if start <= 0 || end < start {
		return fmt.Errorf("linker: llm_request span for %q has bad times %d..%d", v.Str, start, end)
	}
	sec := func(k string) (int64, bool) {
		a, ok := span.Lookup(attrs, k)
		if !ok {
			return 0, false
		}
		var f float64
		switch a.Type {
		case span.TypeDouble:
			f = a.AsFloat()
		case span.TypeInt:
			f = float64(a.Num)
		default:
			return 0, false
		}
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e7 {
			return 0, false
		}
		return int64(math.Round(f * 1e9)), true
	}
	count := func(k string) int {
		a, ok := span.Lookup(attrs, k)
		if !ok || a.Type != span.TypeInt {
			return -1
		}
		return int(a.Num)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	t.version++
	r := t.get(v.Str)
	const src = SourceOTLP
	r.TraceID, r.SpanID, r.ParentSpanID = traceID, spanID, parentSpanID
	r.src[fSpan] = src
	r.Source = src
	r.touched = max(r.touched, end)
	if r.seq == 0 {
		r.seq = t.seq
	}
	r.set(fArrival, &r.Arrival, start, src, 1)
	ttft, hasTTFT := sec("gen_ai.latency.time_to_first_token")
	prefill, hasPrefill := sec("gen_ai.latency.time_in_model_prefill")
	decode, hasDecode := sec("gen_ai.latency.time_in_model_decode")
	if hasTTFT {
		r.set(fFirst, &r.FirstToken, start+ttft, src, 1)
		if hasPrefill {
			r.set(fScheduled, &r.Scheduled, start+ttft-prefill, src, 1)
		}
	}
	if r.src[fScheduled] < src {
		if q, ok := sec("gen_ai.latency.time_in_queue"); ok {
			r.set(fScheduled, &r.Scheduled, start+q, src, 1)
		}
	}
	fin, finRes := end, int64(time.Millisecond) // the span ends a little after the last token
	if hasTTFT && hasDecode {
		fin, finRes = start+ttft+decode, 1
	}
	r.src[fFinish] = SourceNone
	r.set(fFinish, &r.Finish, fin, src, finRes)
	r.finishIter = nil
	if n := count("gen_ai.usage.prompt_tokens"); n >= 0 {
		r.PromptTokens = n
	}
	if n := count("gen_ai.usage.completion_tokens"); n >= 0 {
		r.CompletionTokens = n
	}
	if n := count("gen_ai.request.max_tokens"); n >= 0 {
		r.MaxTokens = n
	}
	r.src[fUsage] = src
	r.Attrs = r.Attrs[:0:0]
	for _, a := range attrs {
		if vllmlog.IsMetadataAttr(a.Key) {
			r.Attrs = append(r.Attrs, a)
		}
	}
	if end > t.water[src] {
		t.water[src] = end
	}
	if end > t.newest {
		t.newest = end
	}
	t.maybePrune()
	return nil
}

// Request returns a copy of what is known about the request with external
// id id.
func (t *Timeline) Request(id string) (Request, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.reqs[id]
	if !ok {
		return Request{}, false
	}
	return r.snapshot(), true
}

// snapshot copies the request for use outside the lock.
func (r *reqState) snapshot() Request {
	c := r.Request
	c.Attrs = append([]span.Attr(nil), r.Attrs...)
	c.ArrivalRes, c.FinishRes = r.res[fArrival], r.res[fFinish]
	return c
}

// Len returns the number of requests held.
func (t *Timeline) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.reqs)
}

// Watermark returns the latest time (Unix ns) up to which src is known to be
// complete: the newest record time seen from it, or what Advance set. The
// daemon holds a trace file until the watermarks of the sources it uses
// pass the file's end (bounded by a hold timeout). 0 means nothing yet.
func (t *Timeline) Watermark(src Source) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if int(src) >= len(t.water) {
		return 0
	}
	return t.water[src]
}

// Advance raises src's watermark to at, for a source that is known to be
// caught up (a tailed log at end of file with nothing new: everything up
// to now has been read).
func (t *Timeline) Advance(src Source, at int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if int(src) < len(t.water) && at > t.water[src] {
		t.water[src] = at
	}
}

func (t *Timeline) maybePrune() {
	t.adds++
	if t.adds%1024 != 0 && len(t.reqs) <= t.opts.MaxRequests && len(t.iters) <= t.opts.MaxIterations {
		return
	}
	t.pruneLocked()
}

// Prune drops requests and iterations older than the retention window or
// beyond the caps. It runs by itself as records are added.
func (t *Timeline) Prune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pruneLocked()
}

func (t *Timeline) pruneLocked() {
	cut := t.newest - int64(t.opts.Retention)
	for id, r := range t.reqs {
		if r.touched < cut {
			delete(t.reqs, id)
		}
	}
	for k, it := range t.iters {
		if it.time < cut {
			delete(t.iters, k)
		}
	}
	if n := len(t.reqs) - t.opts.MaxRequests; n > 0 {
		all := make([]*reqState, 0, len(t.reqs))
		for _, r := range t.reqs {
			all = append(all, r)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].touched < all[j].touched })
		for _, r := range all[:n] {
			delete(t.reqs, r.ID)
		}
	}
	t.list = t.list[:0]
	for _, r := range t.reqs {
		t.list = append(t.list, r)
	}
	sort.Slice(t.list, func(i, j int) bool { return t.list[i].seq < t.list[j].seq })
	if n := len(t.iters) - t.opts.MaxIterations; n > 0 {
		all := make([]*iterRec, 0, len(t.iters))
		for _, it := range t.iters {
			all = append(all, it)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].time < all[j].time })
		for _, it := range all[:n] {
			delete(t.iters, it.key)
		}
	}
	t.version++
}

// candidates returns copies of the requests that may have been active in
// [lo, hi]: arrived (or unknown arrival) before hi and not finished before lo.
func (t *Timeline) candidates(lo, hi int64) []reqState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]reqState, 0, 64)
	for _, r := range t.list {
		if r.Arrival != 0 && r.Arrival-r.res[fArrival] > hi {
			continue
		}
		if r.Finish != 0 && r.Finish+r.res[fFinish] < lo {
			continue
		}
		c := *r
		out = append(out, c)
	}
	return out
}

// iterationsNear returns the iterations logged within [lo, hi].
func (t *Timeline) iterationsNear(lo, hi int64) []iterRec {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []iterRec
	for _, it := range t.iters {
		if it.time+it.res >= lo && it.time <= hi {
			out = append(out, *it)
		}
	}
	return out
}

func (t *Timeline) iteration(k iterKey) (iterRec, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	it, ok := t.iters[k]
	if !ok {
		return iterRec{}, false
	}
	return *it, true
}

// allRequests returns copies of every request held, ordered by id.
func (t *Timeline) allRequests() []Request {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Request, 0, len(t.reqs))
	for _, r := range t.reqs {
		out = append(out, r.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// profileStartBefore returns the last /start_profile line logged at or
// before at (and not more than window before it).
func (t *Timeline) profileStartBefore(at, window int64) (profileMarker, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.markers) - 1; i >= 0; i-- {
		m := t.markers[i]
		if m.kind == vllmlog.KindProfileStart && m.time <= at && m.time >= at-window {
			return m, true
		}
	}
	return profileMarker{}, false
}
