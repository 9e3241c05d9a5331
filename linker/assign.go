package linker

import (
	"sort"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Phase is a request's phase in one step.
type Phase uint8

// Phases.
const (
	PhasePrefill Phase = iota + 1
	PhaseDecode
)

// String returns "prefill" or "decode", the vllm.request.phase value.
func (p Phase) String() string {
	if p == PhasePrefill {
		return "prefill"
	}
	return "decode"
}

type assignment struct {
	id    string
	phase Phase
}

type stepRec struct {
	enginestep.Step
	assigned  []assignment
	counted   bool // the annotation gave the batch composition
	fully     bool // as many requests as the annotation says, of each phase
	ambiguous bool
	aligned   bool
}

// sequence is the steps of one trace file (one *span.Resource), in order.
type sequence struct {
	res   *span.Resource
	steps []*stepRec
	al    alignment
	state *runState // after the last step, for incremental LinkStep
}

type runState struct {
	// gone are requests known to have finished before the run's first
	// step although their one-second finish time cannot tell (see
	// finishedAtStart).
	gone    map[string]bool
	running []string
	done    map[string]bool
	served  map[string]int
	prefill map[string]bool // in the context phase in the last step
	started bool            // a step has been processed
	last    int             // Index of the last step processed
}

func newRunState() *runState {
	return &runState{done: map[string]bool{}, served: map[string]int{}, prefill: map[string]bool{}, last: -2}
}

// insert adds or replaces a step and reports whether it was appended at
// the end in order (so an incremental run can continue).
func (q *sequence) insert(s enginestep.Step) (*stepRec, bool) {
	rec := &stepRec{Step: s}
	i := sort.Search(len(q.steps), func(i int) bool { return q.steps[i].Index >= s.Index })
	if i < len(q.steps) && q.steps[i].Index == s.Index {
		q.steps[i] = rec
		return rec, false
	}
	q.steps = append(q.steps, nil)
	copy(q.steps[i+1:], q.steps[i:])
	q.steps[i] = rec
	return rec, i == len(q.steps)-1
}

// run replays the whole sequence from scratch.
func (q *sequence) run(tl *Timeline) {
	q.align(tl)
	q.state = newRunState()
	for i, s := range q.steps {
		if q.state.last != s.Index-1 {
			*q.state = *newRunState()
			q.state.gone = q.finishedAtStart(tl, i)
		}
		q.process(tl, q.state, s)
	}
}

// candSlack widens the window in which requests are looked up around a
// step, for clock differences; the resolution of each request's times (one
// second for the text log) is added per request.
const candSlack = int64(100e6)

type stepCtx struct {
	start, end int64
	it         iterKey
	aligned    bool
}

type cand struct {
	*reqState
	p float64 // how surely the request finished before this step (0..1)
}

// finishedP says how surely c finished before the step: 1 certain, 0.75
// likely, 0.5 unknown, 0.25 probably still running, 0 certainly running.
func finishedP(c *reqState, sc stepCtx, served int) float64 {
	if ref, ok := c.finishIter.forProc(sc.it.proc, sc.it.epoch); sc.aligned && ok {
		if ref.key.index < sc.it.index {
			return 1
		}
		return 0
	}
	if c.Finish != 0 {
		f, res := c.Finish, c.res[fFinish]
		switch {
		case c.src[fFinish] == SourceOTLP && res <= 1000: // last-token time, exact
			if f < sc.start {
				return 1
			}
			return 0
		case res < int64(1e8): // logged after the fact, precisely
			switch {
			case f < sc.start:
				return 1
			case f < sc.end:
				return 0.75
			}
			return 0
		default: // one-second log time
			switch {
			case f+res <= sc.start:
				return 1
			case f > sc.end:
				return 0
			}
			if c.MaxTokens > 0 && served >= c.MaxTokens {
				return 0.75
			}
			return 0.5
		}
	}
	if c.MaxTokens > 0 && served >= c.MaxTokens {
		return 0.75
	}
	return 0.25
}

// eligible says whether c could be scheduled at the step.
func eligible(c *reqState, sc stepCtx) bool {
	if c.src[fScheduled] == SourceOTLP {
		return c.Scheduled <= sc.start
	}
	if ref, ok := c.arrivalIter.forProc(sc.it.proc, sc.it.epoch); sc.aligned && ok {
		return ref.key.index < sc.it.index
	}
	return c.Arrival == 0 || c.Arrival <= sc.start
}

// fcfsLess orders requests the way the scheduler takes them: by scheduled
// time when known exactly, else by arrival, then by log order.
func fcfsLess(a, b *reqState) bool {
	ka, kb := a.Arrival, b.Arrival
	switch {
	case a.src[fScheduled] == SourceOTLP && b.src[fScheduled] == SourceOTLP:
		ka, kb = a.Scheduled, b.Scheduled
	case a.logSeq != 0 && b.logSeq != 0 && a.logStream == b.logStream:
		ka, kb = a.logSeq, b.logSeq
	}
	if ka != kb {
		return ka < kb
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.ID < b.ID
}

func batchCounts(a enginestep.Annotation) (newN, runM int, ok bool) {
	switch {
	case a.ContextRequests != enginestep.Unknown && a.GenerationRequests != enginestep.Unknown:
		return a.ContextRequests, a.GenerationRequests, true
	case a.NewRequests != enginestep.Unknown && a.CachedRequests != enginestep.Unknown:
		return a.NewRequests, a.CachedRequests, true
	}
	return 0, 0, false
}

// process assigns requests to one step, continuing from st.
func (q *sequence) process(tl *Timeline, st *runState, s *stepRec) {
	if st.last != s.Index-1 { // a gap: start afresh
		gone := st.gone
		*st = *newRunState()
		st.gone = gone
	}
	for id := range st.gone { // finished before the run: never again
		st.done[id] = true
	}
	st.gone = nil
	st.last = s.Index
	sc := stepCtx{start: s.Start, end: s.End}
	sc.it, sc.aligned = q.iterFor(tl, s)
	s.aligned = sc.aligned
	snap := tl.candidates(s.Start-candSlack, s.End+candSlack)
	byID := make(map[string]*reqState, len(snap))
	for i := range snap {
		byID[snap[i].ID] = &snap[i]
	}
	newN, runM, counted := batchCounts(s.Annotation)
	s.counted = counted
	amb := false

	// 1. Requests still running from the previous step.
	keep := make([]cand, 0, len(st.running))
	var cont []*reqState // running requests still in their context phase
	for _, id := range st.running {
		c := byID[id]
		if c == nil {
			continue
		}
		p := finishedP(c, sc, st.served[id])
		if p >= 1 {
			continue
		}
		if c.src[fFirst] == SourceOTLP && c.FirstToken > sc.start {
			// Chunked prefill, known exactly: no token yet, so still a
			// context request.
			cont = append(cont, c)
			continue
		}
		keep = append(keep, cand{c, p})
	}

	// 2. Requests that may join: eligible, not finished, not seen before in
	// this run, first come first served.
	pool := make([]*reqState, 0, len(snap))
	for i := range snap {
		c := &snap[i]
		if st.done[c.ID] || !eligible(c, sc) {
			continue
		}
		if finishedP(c, sc, 0) >= 0.75 {
			continue
		}
		pool = append(pool, c)
	}
	sort.Slice(pool, func(i, j int) bool { return fcfsLess(pool[i], pool[j]) })

	// Chunked prefill without exact times: when the step has more context
	// requests than can be new and more running requests than generation
	// slots, the requests that were prefilling in the previous step are
	// still prefilling (vLLM schedules running requests before waiting
	// ones). Most recently scheduled first.
	if counted && len(cont)+len(pool) < newN && len(keep) > runM && len(st.prefill) > 0 {
		short := min(newN-len(cont)-len(pool), len(keep)-runM)
		rest := keep[:0:0]
		for i := len(keep) - 1; i >= 0; i-- {
			if short > 0 && st.prefill[keep[i].ID] {
				cont = append(cont, keep[i].reqState)
				short--
				amb = true
				continue
			}
			rest = append(rest, keep[i])
		}
		for i, j := 0, len(rest)-1; i < j; i, j = i+1, j-1 {
			rest[i], rest[j] = rest[j], rest[i]
		}
		keep = rest
	}

	if counted && len(keep) > runM {
		sort.SliceStable(keep, func(i, j int) bool {
			if keep[i].p != keep[j].p {
				return keep[i].p > keep[j].p
			}
			fi, fj := keep[i].Finish, keep[j].Finish
			if fi != fj {
				if fi == 0 {
					return false
				}
				if fj == 0 {
					return true
				}
				return fi < fj
			}
			if keep[i].finishSeq != keep[j].finishSeq {
				return keep[i].finishSeq < keep[j].finishSeq
			}
			return fcfsLess(keep[i].reqState, keep[j].reqState)
		})
		cut := len(keep) - runM
		if keep[cut-1].p < 0.75 || keep[cut].p >= 0.5 {
			amb = true
		}
		keep = keep[cut:]
	}

	var decode []*reqState
	for _, c := range keep {
		decode = append(decode, c.reqState)
	}
	prefill := cont
	if counted {
		if len(decode) < runM { // the run starts here, or a request was missed
			n := min(runM-len(decode), len(pool))
			if st.started {
				amb = amb || n > 0
			}
			decode = append(decode, pool[:n]...)
			pool = pool[n:]
		}
		n := max(min(newN-len(prefill), len(pool)), 0)
		prefill = append(prefill, pool[:n]...)
		s.fully = len(decode) == runM && len(prefill) == newN
	} else {
		// No batch composition (ProfilerStep#N): everyone eligible and not
		// finished; those joining after the run's first step are new.
		for _, c := range pool {
			if st.started || (c.src[fFirst] == SourceOTLP && c.FirstToken > sc.start) {
				prefill = append(prefill, c)
			} else {
				decode = append(decode, c)
			}
		}
		amb = amb || len(pool) > 0
	}
	s.ambiguous = amb

	st.started = true
	s.assigned = s.assigned[:0]
	st.running = st.running[:0]
	clear(st.prefill)
	for _, c := range decode {
		s.assigned = append(s.assigned, assignment{id: c.ID, phase: PhaseDecode})
		st.running = append(st.running, c.ID)
		st.done[c.ID] = true
		st.served[c.ID]++
	}
	for _, c := range prefill {
		st.prefill[c.ID] = true
		s.assigned = append(s.assigned, assignment{id: c.ID, phase: PhasePrefill})
		st.running = append(st.running, c.ID)
		st.done[c.ID] = true
		st.served[c.ID]++
	}
	sort.Slice(s.assigned, func(i, j int) bool { return s.assigned[i].id < s.assigned[j].id })
}

// finishedAtStart works out which requests with one-second finish times
// had already finished when the run starting at steps[i] began. The log
// lists finishes in order; the steps' counts say how many requests finish
// in each step (N+M of a step minus M of the next). So of the requests the
// log says finished in the second the run starts in, all but those the
// run's own steps account for finished before it: the earliest ones in log
// order. It needs the run to cover the rest of that second; otherwise it
// falls back to the /start_profile access-log line, and without one
// first-come-first-served alone decides.
func (q *sequence) finishedAtStart(tl *Timeline, i int) map[string]bool {
	first := q.steps[i]
	sec := first.Start - first.Start%int64(1e9)
	secEnd := sec + int64(1e9)
	finishes, covered := 0, false
	for j := i; j < len(q.steps); j++ {
		s := q.steps[j]
		if j > i && s.Index != q.steps[j-1].Index+1 {
			break
		}
		if s.End >= secEnd {
			covered = true
			break
		}
		if j+1 >= len(q.steps) || q.steps[j+1].Index != s.Index+1 {
			break
		}
		n, m, ok := batchCounts(s.Annotation)
		_, m2, ok2 := batchCounts(q.steps[j+1].Annotation)
		if !ok || !ok2 {
			return nil
		}
		finishes += max(n+m-m2, 0)
	}
	if !covered {
		return q.finishedBeforeProfileStart(tl, first.Start, sec)
	}
	var same []reqState
	for _, c := range tl.candidates(sec, secEnd) {
		if c.Finish >= sec && c.Finish < secEnd && c.res[fFinish] >= int64(1e9) && c.src[fFinish] < SourceOTLP {
			same = append(same, c)
		}
	}
	x := len(same) - finishes
	if x <= 0 {
		return nil
	}
	sort.Slice(same, func(a, b int) bool { return same[a].finishSeq < same[b].finishSeq })
	gone := make(map[string]bool, x)
	for _, c := range same[:x] {
		gone[c.ID] = true
	}
	return gone
}

// finishedBeforeProfileStart is the fallback of finishedAtStart: requests
// whose finish line was logged before the /start_profile access-log line
// (same log) finished before profiling began.
func (q *sequence) finishedBeforeProfileStart(tl *Timeline, start, sec int64) map[string]bool {
	m, ok := tl.profileStartBefore(start, int64(10e9))
	if !ok {
		return nil
	}
	var gone map[string]bool
	for _, c := range tl.candidates(sec-int64(1e9), start) {
		if c.finishLog == m.stream && c.finishSeq != 0 && c.finishSeq < m.seq {
			if gone == nil {
				gone = map[string]bool{}
			}
			gone[c.ID] = true
		}
	}
	return gone
}
