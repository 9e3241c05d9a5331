package converter

import (
	"fmt"
	"slices"
	"strings"
)

// Reasons an event is deliberately not exported, the keys of
// Balance.Omitted.
const (
	// OmitKinetoInternal: Kineto's own bookkeeping (the "Trace" span,
	// "overhead", "Iteration Start", "Record Window End"); they bound the
	// profile root.
	OmitKinetoInternal = "kineto_internal"
	// OmitMetadata: "M" events (thread and process names become
	// attributes).
	OmitMetadata = "metadata"
	// OmitFlow: ac2g flows (the correlation id carries that link) and
	// fwdbwd flows (span links).
	OmitFlow = "flow"
	// OmitPythonFolded: python_function frames folded into the ops they
	// enclose (Options.PythonSpans off).
	OmitPythonFolded = "python_folded"
	// OmitNoTimestamp: events without a usable "ts" (Stats.Skipped).
	OmitNoTimestamp = "no_timestamp"
	// OmitNotObject: traceEvents elements that are not objects (category
	// "").
	OmitNotObject = "not_an_object"
)

// omitReasons lists the reasons in ledger order.
var omitReasons = [...]string{OmitKinetoInternal, OmitMetadata, OmitFlow, OmitPythonFolded, OmitNoTimestamp, OmitNotObject}

const (
	omitInternal = iota
	omitMetadata
	omitFlow
	omitPython
	omitNoTs
	omitNotObject
	nOmit
)

// Balance is one category's books: every traceEvents element read is
// accounted for exactly once, as a span, a span event, a span left out by
// the cap or an event not exported for a stated reason.
type Balance struct {
	Read       int64 // traceEvents elements with this "cat"
	Spans      int64 // exported as spans (a step annotation as its trace's root)
	SpanEvents int64 // exported as span events (instants, memory events)
	Capped     int64 // left out by MaxSpansPerTrace, summarised on a kept ancestor
	// Omitted counts the events deliberately not exported, by reason
	// (the Omit* constants); absent reasons are not listed.
	Omitted map[string]int64
}

// Accounted is what became of the category's events.
func (b Balance) Accounted() int64 {
	n := b.Spans + b.SpanEvents + b.Capped
	for _, v := range b.Omitted {
		n += v
	}
	return n
}

// Unaccounted is Read minus Accounted: events read that went nowhere
// (positive) or were counted twice (negative). It is 0 when the books
// balance.
func (b Balance) Unaccounted() int64 { return b.Read - b.Accounted() }

// ledger keeps the books while converting, by interned category id.
// The store stage writes it while traceEvents is read, the builder after.
type ledger struct {
	read, spans, events, capped []int64
	omit                        [nOmit][]int64
	notObjects                  int64 // traceEvents elements that are not objects
}

func bump(col *[]int64, cat uint32) { bumpN(col, cat, 1) }

func bumpN(col *[]int64, cat uint32, n int64) {
	for int(cat) >= len(*col) {
		*col = append(*col, 0)
	}
	(*col)[cat] += n
}

func (l *ledger) omitted(reason int, cat uint32) { bump(&l.omit[reason], cat) }

// books turns the ledger into Stats.Books, by category name.
func (l *ledger) books(in *interner) map[string]Balance {
	out := map[string]Balance{}
	at := func(col []int64, cat int) int64 {
		if cat < len(col) {
			return col[cat]
		}
		return 0
	}
	n := max(len(l.read), len(l.spans), len(l.events), len(l.capped))
	for _, col := range l.omit {
		n = max(n, len(col))
	}
	for cat := range n {
		b := Balance{Read: at(l.read, cat), Spans: at(l.spans, cat), SpanEvents: at(l.events, cat), Capped: at(l.capped, cat)}
		for r, col := range l.omit {
			if v := at(col, cat); v != 0 {
				if b.Omitted == nil {
					b.Omitted = map[string]int64{}
				}
				b.Omitted[omitReasons[r]] += v
			}
		}
		if b.Read == 0 && b.Accounted() == 0 {
			continue
		}
		name := in.str(uint32(cat))
		if old, ok := out[name]; ok { // two ids, one sanitised name
			b.Read += old.Read
			b.Spans += old.Spans
			b.SpanEvents += old.SpanEvents
			b.Capped += old.Capped
			for k, v := range old.Omitted {
				if b.Omitted == nil {
					b.Omitted = map[string]int64{}
				}
				b.Omitted[k] += v
			}
		}
		out[name] = b
	}
	return out
}

// Unaccounted totals, over the categories, the events whose books do not
// balance (each category's |Read - Accounted|). It is 0 for every
// successful conversion; anything else is a converter bug.
func (s Stats) Unaccounted() int64 {
	var n int64
	for _, b := range s.Books {
		if u := b.Unaccounted(); u != 0 {
			n += max(u, -u)
		}
	}
	return n
}

// CheckBooks returns nil when every category's books balance and the
// emitted spans and span events are those the books count (plus one
// synthetic root per trace without a step annotation and the step roots
// the converter emitted itself); otherwise an error
// naming each unbalanced category with its counts.
func (s Stats) CheckBooks() error {
	var bad []string
	var spans, events int64
	for _, cat := range s.bookCategories() {
		b := s.Books[cat]
		spans += b.Spans
		events += b.SpanEvents
		if b.Unaccounted() != 0 {
			bad = append(bad, fmt.Sprintf("%s: %d read, %d accounted (%d spans, %d span events, %d capped, %s), %d unaccounted",
				catLabel(cat), b.Read, b.Accounted(), b.Spans, b.SpanEvents, b.Capped, omittedText(b.Omitted), b.Unaccounted()))
		}
	}
	if roots := int64(s.Traces-s.Steps) + s.StepRoots; spans+roots != s.SpansEmitted {
		bad = append(bad, fmt.Sprintf("%d spans emitted, but the books count %d from events and %d synthetic roots", s.SpansEmitted, spans, roots))
	}
	if events != s.SpanEvents {
		bad = append(bad, fmt.Sprintf("%d span events emitted, but the books count %d", s.SpanEvents, events))
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("converter: the books do not balance: %s", strings.Join(bad, "; "))
}

// BooksLine is the one-line balance of the file for summaries.
func (s Stats) BooksLine() string {
	var tot Balance
	tot.Omitted = map[string]int64{}
	for _, b := range s.Books {
		tot.Read += b.Read
		tot.Spans += b.Spans
		tot.SpanEvents += b.SpanEvents
		tot.Capped += b.Capped
		for k, v := range b.Omitted {
			tot.Omitted[k] += v
		}
	}
	var omitted int64
	for _, v := range tot.Omitted {
		omitted += v
	}
	verdict := "balanced"
	if err := s.CheckBooks(); err != nil {
		verdict = fmt.Sprintf("NOT BALANCED, %d events unaccounted", s.Unaccounted())
	}
	return fmt.Sprintf("books %s: %d events read = %d spans + %d span events + %d capped + %d not exported (%s)",
		verdict, tot.Read, tot.Spans, tot.SpanEvents, tot.Capped, omitted, omittedText(tot.Omitted))
}

func (s Stats) bookCategories() []string {
	cats := make([]string, 0, len(s.Books))
	for c := range s.Books {
		cats = append(cats, c)
	}
	slices.Sort(cats)
	return cats
}

func catLabel(cat string) string {
	if cat == "" {
		return `(no cat)`
	}
	return cat
}

// omittedText lists the reasons in ledger order, "none" when empty.
func omittedText(m map[string]int64) string {
	var parts []string
	for _, r := range omitReasons {
		if v := m[r]; v != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, v))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
