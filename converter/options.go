package converter

import (
	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/insights"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Options control one conversion. The zero value is valid (no cap, no link
// limit, folded Python frames); DefaultOptions gives the daemon's defaults.
type Options struct {
	// MaxSpansPerTrace caps the spans one file gives a trace, root included
	// (a step trace's root and its rank span are always kept, so its cap
	// is at least 2; each rank's file is capped alone); 0 = no cap. The longest spans are kept, the kept set stays closed under
	// ancestry and each parent that lost children carries
	// bridge.dropped_spans.count and bridge.dropped_spans.duration_ns.
	MaxSpansPerTrace int
	// PythonSpans emits python_function frames as spans nested like ops
	// instead of folding the innermost frame into each op's code.*
	// attributes.
	PythonSpans bool
	// Resource holds the caller's resource attributes (service.name,
	// host.name, vllm.rank from the file name, vllm.trace.file, ...). The
	// converter appends what the trace itself says for keys not present.
	Resource []span.Attr
	// IdentityAttrs are what makes one export of a file differ from
	// another export of the same file: service.name and the resource
	// attributes the user configured (not those the file name or content
	// imply, which the content already fixes). The file's trace and span
	// ids are seeded by them and by its first 64 KiB, so a retry with the
	// same settings gets the same ids and an export under another service
	// name or resource other ids. nil = Resource.
	IdentityAttrs []span.Attr
	// Linker, when set, is called once per step before its root span is
	// emitted; its request ids and links go on the step root.
	Linker enginestep.Linker
	// Steps, when set, receives each step's cross-rank part (its root's
	// ids and rank-independent attributes, this rank's figures) instead
	// of the converter emitting the step's root span itself, so that a
	// caller holding several ranks' files (rankjoin.Joiner) writes one
	// root per step with every rank's figures. Without it every step's
	// root is emitted, built from this file alone (vllm.step.ranks 1).
	Steps StepSink
	// MaxLinksPerSpan caps the links a step root takes from the Linker;
	// 0 = no cap. Links beyond it are counted in
	// bridge.dropped_links.count.
	MaxLinksPerSpan int
	// Scope is the instrumentation scope of every batch.
	Scope span.Scope
	// ExportTimeNs is the Unix ns time the trace file was written, for
	// example the time_ns in tensorboard_trace_handler's file name. It is
	// used only when the trace carries no absolute time base (era C): the
	// capture end ("Record Window End", else the last event end) is then
	// placed at ExportTimeNs. 0 = not known.
	ExportTimeNs int64
	// BatchSize is the most spans per emitted batch; 0 means 4096.
	BatchSize int
	// MaxStringBytes cuts span names and string attribute values longer
	// than this many bytes (at a UTF-8 boundary), counting each cut in
	// Stats.StringsTruncated, so that one pathological string cannot make
	// a span no OTLP receiver accepts. 0 = no limit; DefaultOptions: 64 KiB.
	MaxStringBytes int
	// Spill, when set, is the scratch storage that keeps peak memory flat
	// as traces grow: the records (64 B an event), args (about 40 B an
	// event on H100 traces) and the per-window and per-trace buckets
	// (80 B a record each) are written to it once, in pieces gathered
	// into writes of up to 1 MiB, and read back while structure is
	// resolved and one trace at a time is emitted; small inputs never
	// touch it. Without it the same data stays in memory. An *os.File from
	// os.CreateTemp fits; the caller creates, closes and removes it. The
	// output is byte-identical with or without it. A Spill error fails the
	// conversion with an *Error wrapping it.
	Spill Spill

	// NoInsights leaves the step verdicts (package insights: GPU time by
	// kernel class, the idle split, copies, launch delays, CPU split, top
	// kernels, memory, bottleneck) off the step roots.
	NoInsights bool
	// Thresholds are the bottleneck rule's; zero = insights.DefaultThresholds().
	Thresholds insights.Thresholds
}

// DefaultOptions returns MaxSpansPerTrace 10000, MaxLinksPerSpan 128,
// MaxStringBytes 64 KiB,
// Scope{Name: "vllm-otel-bridge/converter"}.
func DefaultOptions() Options {
	return Options{
		MaxSpansPerTrace: 10000,
		MaxLinksPerSpan:  128,
		MaxStringBytes:   64 << 10,
		Scope:            span.Scope{Name: "vllm-otel-bridge/converter"},
	}
}

// Stats describes what one conversion read and emitted.
type Stats struct {
	// Events is the number of elements of traceEvents.
	Events int64
	// ByPhase and ByCategory count events by "ph" and by "cat" (events
	// without cat count under "").
	ByPhase    map[string]int64
	ByCategory map[string]int64
	// UnknownCategories counts X events whose cat the converter does not
	// know; they are exported as generic spans.
	UnknownCategories map[string]int64
	// UnknownPhases counts events of phases other than X, i, I, s, t, f, M;
	// they are exported as span events.
	UnknownPhases int64
	// Skipped counts events that could not be used (X without a usable ts,
	// event not an object); never silently: each is counted here.
	Skipped int64
	// Internal counts Kineto's own events, not exported as spans: the
	// "Trace" span, "overhead", "Iteration Start", "Record Window End".
	Internal int64
	// Metadata counts "M" events (used for thread and process names).
	Metadata int64
	// FlowsAc2g counts ac2g flow events (not stored: correlation ids carry
	// that link). FlowsFwdBwd counts fwdbwd flow events; FwdBwdLinks the
	// span links made from them.
	FlowsAc2g, FlowsFwdBwd, FwdBwdLinks int64
	// SpansEmitted, SpanEvents and Batches count what was emitted.
	SpansEmitted, SpanEvents int64
	Batches                  int
	// Traces is the number of traces the file yields (steps + the profile
	// trace), set once structure is resolved;
	// Steps the number of step annotations.
	Traces, Steps int
	// StepRoots counts the steps' cross-rank roots the converter emitted
	// itself (Options.Steps unset); they are synthetic, like the
	// profile root.
	StepRoots int64
	// SpansDropped counts spans left out by MaxSpansPerTrace;
	// LinksDropped counts links lost with them or beyond MaxLinksPerSpan.
	SpansDropped, LinksDropped int64
	// OrphanGPU counts GPU activities with a correlation id whose launching
	// runtime/driver call is not in the file; they hang under the root of
	// the step their start falls in.
	OrphanGPU int64
	// MemoryEvents counts [memory] and [OutOfMemory] instants (all become
	// span events).
	MemoryEvents int64
	// NonNumeric counts numeric args holding "inf", "nan", "N/A" or a bare
	// NaN; they are kept as string attributes under kineto.arg.*.
	NonNumeric int64
	// JSONBytes is the number of decompressed JSON bytes read;
	// Compressed says whether the input was gzip.
	JSONBytes  int64
	Compressed bool
	// Era is the format era detected (A, B, C, D, E; see
	// kineto-trace-format.md); TimeBase says how Unix times were derived
	// ("baseTimeNanoseconds", "absolute", "export_time", "unknown") and
	// BaseTimeNs is the offset added to every ts.
	Era, TimeBase string
	BaseTimeNs    int64
	// Records is the number of records kept (events that become spans or
	// span events), RecordBytes the size of one record and ArgBytes the
	// size of the args arena.
	Records     int64
	RecordBytes int
	ArgBytes    int64
	// StringsTruncated counts names and string values cut to
	// Options.MaxStringBytes.
	StringsTruncated int64
	// SpillBytes is how much went to Options.Spill: full args chunks,
	// full record chunks and bucket pieces (0 when the input was small
	// enough for everything to stay in memory).
	SpillBytes int64
	// ScratchBytes is how much was written to scratch storage, to
	// Options.Spill or, without it, to memory: every record once in file
	// order (64 B), the CPU-side ones again by window and all of them by
	// trace (80 B each), GPU busy intervals (16 B), and the args arena
	// when it goes to Options.Spill; about 225 B a record on H100 traces.
	ScratchBytes int64
	// LargestTrace is the number of records (spans, span events and the
	// step annotation) of the largest trace: what is held in memory at
	// once while spans are built.
	LargestTrace int64
	// Seed is the IDSource seed of the file's own spans: a hash of the
	// first 64 KiB of JSON and of Options.Resource.
	Seed uint64
	// Books is the file's ledger by category ("cat"; "" for events
	// without one and for elements that are not objects), set when
	// Convert succeeds: every traceEvents element read is accounted for
	// once (see Balance). CheckBooks, Unaccounted and BooksLine read it;
	// books that do not balance are a converter bug.
	Books map[string]Balance
}
