package linker

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Options configures a Linker. The zero value works; New fills defaults.
type Options struct {
	// Resource is the resource of the llm_request spans the linker writes
	// itself (default: service.name=vllm). Request-step spans carry their
	// step's resource (rank, host, GPU).
	Resource *span.Resource
	// MaxLinks caps the span links LinkStep returns for one step (the OTel
	// SDK's default span-link limit is 128). Default 128.
	MaxLinks int
	// ExpectLLMRequestSpans makes Flush wait up to SpanWait after a request
	// finished for vLLM's llm_request span before writing a root span of
	// its own. It is implied once any span was added to the timeline.
	ExpectLLMRequestSpans bool
	// SpanWait bounds that wait. Default 30s (vLLM's BatchSpanProcessor
	// exports every 5s).
	SpanWait time.Duration
	// EmitUnlinkedRequests also writes llm_request root spans for requests
	// that no profiled step served. Default false: only requests seen in a
	// profile get spans.
	EmitUnlinkedRequests bool
	// Scope is the instrumentation scope of the spans the linker writes.
	// Default {Name: "vllm-otel-bridge/linker"}, the style of the
	// converter's "vllm-otel-bridge/converter".
	Scope span.Scope
	// IDSeed seeds the deterministic ids of the spans the linker writes.
	// Default "vllm-otel-bridge/linker/v1"; change it only to get a second,
	// independent copy of the request-side spans.
	IDSeed string
	// MaxSteps caps the steps kept for re-linking and emission; beyond it
	// the oldest trace file's steps are flushed and dropped. Default 100000.
	MaxSteps int
	// Now is the wall clock (for SpanWait); default time.Now.
	Now func() time.Time
	// EmitFor, when set, says whether steps of a trace file (by its
	// resource) get request-side spans. With tensor parallelism every
	// rank's file holds the same steps; letting only rank 0 through avoids
	// one span per rank under each request. Default: every file.
	EmitFor func(*span.Resource) bool
}

func (o *Options) defaults() {
	if o.Resource == nil {
		o.Resource = &span.Resource{Attrs: []span.Attr{span.String("service.name", "vllm")}}
	}
	if o.MaxLinks <= 0 {
		o.MaxLinks = 128
	}
	if o.SpanWait <= 0 {
		o.SpanWait = 30 * time.Second
	}
	if o.IDSeed == "" {
		o.IDSeed = "vllm-otel-bridge/linker/v1"
	}
	if o.Scope.Name == "" {
		o.Scope.Name = "vllm-otel-bridge/linker"
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 100000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Stats counts what the linker decided. Step figures describe the latest
// assignment of every step still held plus all steps already dropped.
type Stats struct {
	// Steps is the number of steps linked.
	Steps int
	// StepsFullyAssigned got exactly the batch the annotation describes.
	StepsFullyAssigned int
	// Ambiguous steps needed a choice the evidence did not settle (more
	// candidates than the batch holds, with nothing to tell them apart).
	Ambiguous int
	// NoRequests steps had a non-empty batch but no known request.
	NoRequests int
	// NoCounts steps carried no batch composition (ProfilerStep#N).
	NoCounts int
	// AlignedToLog steps were matched to an Iteration(i) log line.
	AlignedToLog int
	// Pairs is the number of (request, step) pairs.
	Pairs int
	// LinksTruncated counts links left off steps beyond MaxLinks.
	LinksTruncated int
	// SpansEmitted and RootsEmitted count request-step spans and
	// llm_request root spans handed to emit; EmitErrors failed calls.
	SpansEmitted, RootsEmitted, EmitErrors int
}

// Linker assigns steps to requests (enginestep.Linker) and writes the
// request-side spans. It is safe for concurrent use.
type Linker struct {
	flushMu sync.Mutex
	mu      sync.Mutex
	tl      *Timeline
	emit    func(*span.Batch) error
	opts    Options
	ids     span.IDSource
	seqs    map[*span.Resource]*sequence
	order   []*span.Resource // sequences, oldest first
	emitted map[emitKey]bool
	past    Stats // figures of dropped steps
	counter Stats // cumulative counters (links, emission)
}

type emitKey struct {
	id   string
	sp   span.SpanID // the written span's id
	root bool        // the llm_request root the linker writes
}

var _ enginestep.Linker = (*Linker)(nil)

// New returns a Linker over tl that hands request-side spans to emit.
func New(tl *Timeline, emit func(*span.Batch) error, opts Options) *Linker {
	opts.defaults()
	// The ids depend on the resource too: the same requests written under
	// another service.name are another export, not a retry.
	seed := span.AppendIdentity([]byte(opts.IDSeed), opts.Resource.Attrs)
	return &Linker{tl: tl, emit: emit, opts: opts, ids: span.NewIDSource(seed),
		seqs: map[*span.Resource]*sequence{}, emitted: map[emitKey]bool{}}
}

// LinkStep records the step, decides which requests it served with what
// the timeline knows now, and returns their ids with links to each
// request's span. Steps of one trace file should come in order; a step that
// comes out of order makes the file's steps be re-linked.
func (l *Linker) LinkStep(s enginestep.Step) enginestep.Link {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.seqs[s.Resource]
	if q == nil {
		q = &sequence{res: s.Resource}
		l.seqs[s.Resource] = q
		l.order = append(l.order, s.Resource)
	}
	rec, appended := q.insert(s)
	before := q.al
	q.align(l.tl)
	if appended && q.state != nil && q.al == before && q.state.last == s.Index-1 {
		q.process(l.tl, q.state, rec)
	} else {
		q.run(l.tl)
	}
	l.trim()
	return l.linkFor(rec)
}

func (l *Linker) linkFor(s *stepRec) enginestep.Link {
	out := enginestep.Link{RequestIDs: make([]string, 0, len(s.assigned))}
	for _, a := range s.assigned {
		out.RequestIDs = append(out.RequestIDs, a.id)
		if len(out.Links) >= l.opts.MaxLinks {
			l.counter.LinksTruncated++
			continue
		}
		r, _ := l.tl.Request(a.id)
		if r.ID == "" {
			r.ID = a.id
		}
		tr, parent := l.requestSpan(&r)
		lk := span.Link{TraceID: tr, SpanID: parent,
			Attrs: []span.Attr{span.String("gen_ai.request.id", a.id), span.String("vllm.request.phase", a.phase.String())}}
		if !r.HasSpan() {
			lk.SpanID = l.childID(a.id, tr, &s.Step)
		}
		out.Links = append(out.Links, lk)
	}
	return out
}

// requestSpan returns the trace id and span id of the request's
// llm_request span: vLLM's when known, else the one the linker writes.
func (l *Linker) requestSpan(r *Request) (span.TraceID, span.SpanID) {
	if r.HasSpan() {
		return r.TraceID, r.SpanID
	}
	return l.ids.TraceIDFromString(r.ID), l.ids.SpanIDFromString("llm_request\x00" + r.ID)
}

func (l *Linker) childID(id string, tr span.TraceID, s *enginestep.Step) span.SpanID {
	return l.ids.SpanIDFromString(id + "\x00" + tr.String() + "\x00" + s.TraceID.String() + s.RootSpanID.String())
}

// trim drops the oldest sequences beyond MaxSteps, flushing them first.
func (l *Linker) trim() {
	total := 0
	for _, q := range l.seqs {
		total += len(q.steps)
	}
	for total > l.opts.MaxSteps && len(l.order) > 1 {
		res := l.order[0]
		q := l.seqs[res]
		_ = l.flushSeqs([]*sequence{q}, true) // errors are counted in EmitErrors
		total -= len(q.steps)
		l.dropSeq(res)
	}
}

func (l *Linker) dropSeq(res *span.Resource) {
	q := l.seqs[res]
	if q == nil {
		return
	}
	addStepStats(&l.past, q)
	delete(l.seqs, res)
	for i, r := range l.order {
		if r == res {
			l.order = append(l.order[:i], l.order[i+1:]...)
			break
		}
	}
}

func addStepStats(st *Stats, q *sequence) {
	for _, s := range q.steps {
		st.Steps++
		st.Pairs += len(s.assigned)
		if s.fully {
			st.StepsFullyAssigned++
		}
		if s.ambiguous {
			st.Ambiguous++
		}
		if !s.counted {
			st.NoCounts++
		}
		if s.aligned {
			st.AlignedToLog++
		}
		if len(s.assigned) == 0 && s.Annotation.Requests() != 0 {
			st.NoRequests++
		}
	}
}

// Stats returns the linker's figures.
func (l *Linker) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.past
	for _, res := range l.order {
		addStepStats(&st, l.seqs[res])
	}
	st.LinksTruncated += l.counter.LinksTruncated
	st.SpansEmitted, st.RootsEmitted, st.EmitErrors = l.counter.SpansEmitted, l.counter.RootsEmitted, l.counter.EmitErrors
	return st
}

// Pair is one (request, step) decision.
type Pair struct {
	RequestID string
	// StepIndex is the step's index in its trace file; Resource identifies
	// the file.
	StepIndex int
	Resource  *span.Resource
	Phase     Phase
}

// Pairs re-links every held step with what the timeline knows now and
// returns all (request, step) pairs, ordered by file, step and request.
func (l *Linker) Pairs() []Pair {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Pair
	for _, res := range l.order {
		q := l.seqs[res]
		q.run(l.tl)
		for _, s := range q.steps {
			for _, a := range s.assigned {
				out = append(out, Pair{RequestID: a.id, StepIndex: s.Index, Resource: res, Phase: a.phase})
			}
		}
	}
	return out
}

// ErrEmit wraps failures of the emit function.
var ErrEmit = errors.New("linker: emit failed")

// Flush re-links every held step with what the timeline knows now and
// writes the spans of requests that are ready: finished (and, when vLLM's
// spans are expected, with their span or after SpanWait). With final set,
// every request with a pair is written and all steps are dropped
// afterwards (end of a conversion, shutdown). Spans already written are not
// written again; a failed emit is retried on the next Flush. emit is called
// without the linker's lock held, so LinkStep does not wait for it.
func (l *Linker) Flush(final bool) error {
	l.flushMu.Lock() // one flush at a time
	defer l.flushMu.Unlock()
	l.mu.Lock()
	seqs := make([]*sequence, 0, len(l.order))
	for _, res := range l.order {
		seqs = append(seqs, l.seqs[res])
	}
	p := l.plan(seqs, final)
	planned := make([]int, len(seqs))
	for i, q := range seqs {
		planned[i] = len(q.steps)
	}
	l.mu.Unlock()

	// Emit without holding the lock, so LinkStep never waits on a slow
	// backend.
	results := make([]error, len(p.order))
	for i, res := range p.order {
		results[i] = l.emit(p.batches[res])
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.apply(p, results)
	if final && err == nil {
		for i, q := range seqs {
			// A file that got steps while emitting stays for the next flush.
			if l.seqs[q.res] == q && len(q.steps) == planned[i] {
				l.dropSeq(q.res)
			}
		}
	}
	if !final {
		l.dropDone()
	}
	l.pruneEmitted()
	return err
}

// pruneEmitted forgets which spans were written for requests no held step
// refers to any more.
func (l *Linker) pruneEmitted() {
	held := map[string]bool{}
	for _, q := range l.seqs {
		for _, s := range q.steps {
			for _, a := range s.assigned {
				held[a.id] = true
			}
		}
	}
	for k := range l.emitted {
		if !held[k.id] {
			delete(l.emitted, k)
		}
	}
}

// dropDone forgets trace files whose pairs have all been written and whose
// last step is older than SpanWait on the sources' clock (late log lines
// can no longer change anything that matters).
func (l *Linker) dropDone() {
	newest := int64(0)
	for src := SourceTextLog; src <= SourceOTLP; src++ {
		newest = max(newest, l.tl.Watermark(src))
	}
	for _, res := range append([]*span.Resource(nil), l.order...) {
		q := l.seqs[res]
		if len(q.steps) == 0 || q.steps[len(q.steps)-1].End+int64(l.opts.SpanWait) > newest {
			continue
		}
		done := true
		for _, s := range q.steps {
			for _, a := range s.assigned {
				r, _ := l.tl.Request(a.id)
				if r.ID == "" {
					r.ID = a.id
				}
				tr, _ := l.requestSpan(&r)
				if l.emitsFor(s) && !l.emitted[emitKey{id: a.id, sp: l.childID(a.id, tr, &s.Step)}] {
					done = false
				}
			}
		}
		if done {
			l.dropSeq(res)
		}
	}
}

func (l *Linker) emitsFor(s *stepRec) bool {
	return l.opts.EmitFor == nil || l.opts.EmitFor(s.Resource)
}

type reqSteps struct {
	req   Request
	known bool
	steps []*stepRec
	phase []Phase
	// windowStart is the start of the first step of the trace file the
	// request's first step came from (see appendLatencies).
	windowStart int64
}

// flushPlan is what one flush writes: one batch per resource.
type flushPlan struct {
	batches map[*span.Resource]*span.Batch
	keys    map[*span.Resource][]emitKey
	order   []*span.Resource
}

// flushSeqs plans and emits under the lock (used when trimming).
func (l *Linker) flushSeqs(seqs []*sequence, final bool) error {
	p := l.plan(seqs, final)
	results := make([]error, len(p.order))
	for i, res := range p.order {
		results[i] = l.emit(p.batches[res])
	}
	return l.apply(p, results)
}

// plan re-links seqs and collects the spans of ready requests that were
// not written yet.
func (l *Linker) plan(seqs []*sequence, final bool) *flushPlan {
	byReq := map[string]*reqSteps{}
	var ids []string
	for _, q := range seqs {
		q.run(l.tl)
		for _, s := range q.steps {
			if !l.emitsFor(s) {
				continue
			}
			for _, a := range s.assigned {
				rs := byReq[a.id]
				if rs == nil {
					rs = &reqSteps{}
					rs.req, rs.known = l.tl.Request(a.id)
					if !rs.known {
						rs.req = Request{ID: a.id}
					}
					rs.windowStart = q.steps[0].Start
					byReq[a.id] = rs
					ids = append(ids, a.id)
				}
				rs.steps = append(rs.steps, s)
				rs.phase = append(rs.phase, a.phase)
			}
		}
	}
	if final && l.opts.EmitUnlinkedRequests {
		for _, r := range l.tl.allRequests() {
			if byReq[r.ID] == nil {
				byReq[r.ID] = &reqSteps{req: r, known: true}
				ids = append(ids, r.ID)
			}
		}
	}
	sort.Strings(ids)
	expect := l.opts.ExpectLLMRequestSpans || l.tl.Watermark(SourceOTLP) > 0
	now := l.opts.Now().UnixNano()
	batches := map[*span.Resource]*span.Batch{}
	keys := map[*span.Resource][]emitKey{}
	var order []*span.Resource
	add := func(res *span.Resource, sp span.Span, k emitKey) {
		b := batches[res]
		if b == nil {
			b = &span.Batch{Resource: res, Scope: l.opts.Scope}
			batches[res] = b
			order = append(order, res)
		}
		b.Spans = append(b.Spans, sp)
		keys[res] = append(keys[res], k)
	}
	shares := map[*stepRec][]int64{}
	for _, id := range ids {
		rs := byReq[id]
		r := &rs.req
		finished := r.Finish != 0 || r.Aborted
		ready := final || !rs.known ||
			(finished && (r.HasSpan() || !expect || now-r.Finish >= int64(l.opts.SpanWait)))
		if !ready {
			continue
		}
		tr, parent := l.requestSpan(r)
		v := l.verdictFor(rs, shares)
		if !r.HasSpan() {
			k := emitKey{id: id, sp: parent, root: true}
			if !l.emitted[k] {
				root := l.rootSpan(rs, tr, parent)
				root.Attrs = v.rootAttrs(root.Attrs)
				add(l.opts.Resource, root, k)
			}
		}
		for i, s := range rs.steps {
			if !l.emitsFor(s) {
				continue
			}
			k := emitKey{id: id, sp: l.childID(id, tr, &s.Step)}
			if l.emitted[k] {
				continue
			}
			res := s.Resource
			if res == nil {
				res = l.opts.Resource
			}
			sp := l.stepSpan(r, tr, parent, s, rs.phase[i])
			sp.Attrs = v.stepAttrs(sp.Attrs, i, s)
			add(res, sp, k)
		}
	}
	return &flushPlan{batches: batches, keys: keys, order: order}
}

// apply records the outcome of emitting a plan's batches.
func (l *Linker) apply(p *flushPlan, results []error) error {
	var errs []error
	for i, res := range p.order {
		if err := results[i]; err != nil {
			l.counter.EmitErrors++
			errs = append(errs, err)
			continue
		}
		for _, k := range p.keys[res] {
			l.emitted[k] = true
			if k.root {
				l.counter.RootsEmitted++
			} else {
				l.counter.SpansEmitted++
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrEmit, errors.Join(errs...))
	}
	return nil
}
