package linker

import (
	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
)

// Matching trace steps to "Iteration(i): …" log lines.
//
// vLLM's --enable-logging-iteration-details line carries the same four
// counts as the step annotation execute_context_N(T)_generation_M(G), the
// time it was logged (the step's end; one-second resolution in the text
// log) and the step's elapsed time. Steps of one trace file are consecutive
// iterations, so one offset (iteration index − step index) aligns a whole
// file; it is chosen by votes of matching count tuples among the file's
// first steps, ties broken by how close the times and elapsed times are.

const (
	alignClockSlack = int64(2e9) // log clock vs trace clock, and logging delay
	alignVoteSteps  = 24         // steps that vote for an offset (spread over the file)
	alignFreeze     = 6          // matching steps after which the offset is fixed
)

type alignment struct {
	ok     bool
	frozen bool
	proc   string
	epoch  int
	offset int
}

type alignVote struct {
	proc          string
	epoch, offset int
}

func tupleOf(a enginestep.Annotation) (n, t, m, g int, ok bool) {
	if a.ContextRequests == enginestep.Unknown || a.GenerationRequests == enginestep.Unknown {
		return 0, 0, 0, 0, false
	}
	return a.ContextRequests, a.ContextTokens, a.GenerationRequests, a.GenerationTokens, true
}

func iterMatches(it *iterRec, s *stepRec) bool {
	n, t, m, g, ok := tupleOf(s.Annotation)
	return ok && it.ContextRequests == n && it.ContextTokens == t &&
		it.GenerationRequests == m && it.GenerationTokens == g
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// closeness is how far an iteration record is from a step, in ns (time of
// the log line vs the step's end, plus elapsed vs the step's duration).
func closeness(it *iterRec, s *stepRec) int64 {
	d := int64(0)
	switch {
	case s.End < it.time:
		d = it.time - s.End
	case s.End > it.time+it.res:
		d = s.End - (it.time + it.res)
	}
	if it.ElapsedNs > 0 {
		d += abs64(it.ElapsedNs - (s.End - s.Start))
	}
	return d
}

// align (re)computes the sequence's alignment from the timeline.
func (q *sequence) align(tl *Timeline) {
	if q.al.frozen || len(q.steps) == 0 {
		return
	}
	votes := map[alignVote]int{}
	dist := map[alignVote]int64{}
	// Voters: up to alignVoteSteps steps spread over the file, so a log
	// that starts (or was rotated) in the middle of a file still aligns.
	voters := q.steps
	if len(voters) > alignVoteSteps {
		voters = make([]*stepRec, 0, alignVoteSteps)
		for i := 0; i < alignVoteSteps; i++ {
			voters = append(voters, q.steps[i*(len(q.steps)-1)/(alignVoteSteps-1)])
		}
	}
	lo := voters[0].End - alignClockSlack - int64(1e9)
	hi := voters[len(voters)-1].End + alignClockSlack
	iters := tl.iterationsNear(lo, hi)
	if len(iters) == 0 {
		q.al = alignment{}
		return
	}
	for _, s := range voters {
		if _, _, _, _, ok := tupleOf(s.Annotation); !ok {
			continue
		}
		for i := range iters {
			it := &iters[i]
			if s.End < it.time-alignClockSlack || s.End > it.time+it.res+alignClockSlack {
				continue
			}
			if !iterMatches(it, s) {
				continue
			}
			v := alignVote{it.key.proc, it.key.epoch, it.key.index - s.Index}
			votes[v]++
			dist[v] += closeness(it, s)
		}
	}
	var best alignVote
	bestVotes, second := 0, 0
	for v, c := range votes {
		switch {
		case c > bestVotes || (c == bestVotes && dist[v] < dist[best]):
			if c > bestVotes {
				second = bestVotes
			} else {
				second = c
			}
			best, bestVotes = v, c
		case c > second:
			second = c
		}
	}
	if bestVotes == 0 {
		q.al = alignment{}
		return
	}
	q.al = alignment{ok: true, proc: best.proc, epoch: best.epoch, offset: best.offset}
	if bestVotes >= alignFreeze && second*2 < bestVotes {
		q.al.frozen = true
	}
}

// iterFor returns the iteration aligned with step s, if its counts agree.
func (q *sequence) iterFor(tl *Timeline, s *stepRec) (iterKey, bool) {
	if !q.al.ok {
		return iterKey{}, false
	}
	k := iterKey{proc: q.al.proc, epoch: q.al.epoch, index: q.al.offset + s.Index}
	it, ok := tl.iteration(k)
	if !ok || !iterMatches(&it, s) {
		return iterKey{}, false
	}
	return k, true
}
