package rankjoin

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Mode says when roots are written.
type Mode int

const (
	// Hold keeps every root until Flush.
	Hold Mode = iota
	// WriteThrough writes a step's root with each file that adds a part to
	// it, built from every part known so far.
	WriteThrough
)

// Options configure a Joiner; the zero value holds roots until Flush.
type Options struct {
	Mode Mode
	// Tolerance is how far apart (ns of Unix time) two ranks' starts of
	// one step may be; parts further apart share ids only by a collision
	// of two different windows and mark the root
	// bridge.step.window_conflict. Default 100 ms.
	Tolerance time.Duration
	// MaxSteps bounds the steps kept; beyond it the oldest are written
	// (Hold) and forgotten, so a very late rank writes a root of its own
	// parts. Default 100000.
	MaxSteps int
	// Scope is the instrumentation scope of the root batches; default
	// {Name: "vllm-otel-bridge/converter"}, the converter's.
	Scope span.Scope
}

// Stats count what the Joiner did.
type Stats struct {
	// Steps is the number of distinct steps seen, Parts the parts added
	// (a part added again, a retry, counts once).
	Steps, Parts int
	// RootsWritten counts root spans handed to emit (a root written again
	// with more ranks counts each time); Complete those written with as
	// many ranks as the world size.
	RootsWritten, Complete int
	// Conflicts counts parts that claimed a step another file of the same
	// rank already held, or started further than Tolerance from it.
	Conflicts int
}

// Joiner groups the parts of each step by trace id and writes its root. It
// is safe for concurrent use.
type Joiner struct {
	mu    sync.Mutex
	emit  func(*span.Batch) error
	opts  Options
	steps map[span.TraceID]*step
	order []span.TraceID // oldest first
	stats Stats
}

type step struct {
	parts    []converter.RankStep
	written  int // parts in the last root written; 0 = none
	conflict bool
}

// New returns a Joiner that writes held roots to emit (Hold mode, on Flush).
func New(emit func(*span.Batch) error, opts Options) *Joiner {
	if opts.Tolerance <= 0 {
		opts.Tolerance = 100 * time.Millisecond
	}
	if opts.MaxSteps <= 0 {
		opts.MaxSteps = 100000
	}
	if opts.Scope.Name == "" {
		opts.Scope.Name = "vllm-otel-bridge/converter"
	}
	return &Joiner{emit: emit, opts: opts, steps: map[span.TraceID]*step{}}
}

// ForFile returns the converter.StepSink of one file's conversion; in
// WriteThrough mode the roots go to that file's emit (so that they are
// acknowledged with the file's own spans).
func (j *Joiner) ForFile(emit func(*span.Batch) error) converter.StepSink {
	return sink{j: j, emit: emit}
}

type sink struct {
	j    *Joiner
	emit func(*span.Batch) error
}

func (s sink) AddStep(p converter.RankStep) error {
	b, err := s.j.add(p)
	if err != nil || b == nil {
		return err
	}
	return s.emit(b)
}

// add records p and, in WriteThrough mode, returns the root batch to write.
func (j *Joiner) add(p converter.RankStep) (*span.Batch, error) {
	if p.TraceID.IsZero() || p.RootID.IsZero() {
		return nil, fmt.Errorf("rankjoin: part of step %s without trace or root id", p.TraceID)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.steps[p.TraceID]
	if s == nil {
		s = &step{}
		j.steps[p.TraceID] = s
		j.order = append(j.order, p.TraceID)
		j.stats.Steps++
	}
	p = converter.CloneRankStep(p)
	replaced := false
	for i := range s.parts {
		if s.parts[i].RankSpanID == p.RankSpanID { // the same file again
			s.parts[i] = p
			replaced = true
		}
	}
	if !replaced {
		tol := j.opts.Tolerance.Nanoseconds()
		for i := range s.parts {
			q := &s.parts[i]
			if (p.Rank >= 0 && q.Rank == p.Rank) || p.Start-q.Start > tol || q.Start-p.Start > tol || q.RootID != p.RootID {
				if !s.conflict {
					j.stats.Conflicts++
				}
				s.conflict = true
			}
		}
		s.parts = append(s.parts, p)
		j.stats.Parts++
	}
	var b *span.Batch
	if j.opts.Mode == WriteThrough {
		b = j.rootBatch(s)
	}
	j.trim()
	return b, nil
}

// rootBatch builds s's root and records it as written (a failed Flush
// emit undoes that with unwrite).
func (j *Joiner) rootBatch(s *step) *span.Batch {
	root := converter.StepRoot(s.parts)
	if s.conflict {
		root.Attrs = append(root.Attrs, span.Bool("bridge.step.window_conflict", true))
	}
	s.written = len(s.parts)
	j.stats.RootsWritten++
	if j.complete(s) {
		j.stats.Complete++
	}
	res := s.parts[0].Resource
	if res == nil {
		res = &span.Resource{}
	}
	return &span.Batch{Resource: res, Scope: j.opts.Scope, Spans: []span.Span{root}}
}

func (j *Joiner) unwrite(s *step, written int) {
	j.stats.RootsWritten--
	if j.complete(s) {
		j.stats.Complete--
	}
	s.written = written
}

// complete reports whether s has as many ranks as its world size.
func (j *Joiner) complete(s *step) bool {
	w := s.parts[0].WorldSize
	return w > 0 && ranks(s.parts) >= int(w)
}

// ranks counts the distinct ranks of parts.
func ranks(parts []converter.RankStep) int {
	rs := make([]int64, 0, len(parts))
	for _, p := range parts {
		rs = append(rs, p.Rank)
	}
	slices.Sort(rs)
	return len(slices.Compact(rs))
}

// trim forgets the oldest steps beyond MaxSteps; in Hold mode their
// roots are written first (a failure there is not retried: the step is
// forgotten either way, as the bound demands).
func (j *Joiner) trim() {
	for len(j.order) > j.opts.MaxSteps {
		id := j.order[0]
		j.order = j.order[1:]
		s := j.steps[id]
		delete(j.steps, id)
		if j.opts.Mode == Hold && s.written != len(s.parts) {
			_ = j.emit(j.rootBatch(s))
		}
	}
}

// Flush writes the root of every step whose latest parts were not written
// yet, in the order the steps were first seen, and, in Hold mode, forgets
// them. A failed emit leaves the step to the next Flush.
func (j *Joiner) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	keep := j.order[:0]
	var errs []error
	for _, id := range j.order {
		s := j.steps[id]
		if s.written != len(s.parts) {
			written := s.written
			if err := j.emit(j.rootBatch(s)); err != nil {
				j.unwrite(s, written)
				errs = append(errs, err)
				keep = append(keep, id)
				continue
			}
		}
		if j.opts.Mode == Hold {
			delete(j.steps, id)
			continue
		}
		keep = append(keep, id)
	}
	j.order = keep
	if len(errs) > 0 {
		return fmt.Errorf("rankjoin: writing %d step roots: %w", len(errs), errs[0])
	}
	return nil
}

// Stats returns the Joiner's counts.
func (j *Joiner) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stats
}
