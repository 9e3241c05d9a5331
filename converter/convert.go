package converter

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/jsonscan"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/recstore"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// seedPrefix is how much of the decompressed JSON seeds the IDSource.
const seedPrefix = 64 << 10

// profileKey is the trace-ID key of the profile trace and the span-ID key
// of its root; event ordinals never reach it.
const profileKey = 1 << 63

// identity returns IdentityAttrs, or Resource when it is nil.
func (o *Options) identity() []span.Attr {
	if o.IdentityAttrs != nil {
		return o.IdentityAttrs
	}
	return o.Resource
}

// fileIDs is the IDSource of one export of one file: seeded by the first
// 64 KiB of its JSON and by Options.IdentityAttrs (service.name and the
// user's resource attributes), so that the same file exported under
// another service name or resource gets other ids, and a retry with the
// same settings the same ones.
func fileIDs(prefix []byte, resource []span.Attr) span.IDSource {
	seed := make([]byte, 0, len(prefix)+16+32*len(resource))
	seed = binary.AppendUvarint(seed, uint64(len(prefix)))
	seed = append(seed, prefix...)
	return span.NewIDSource(span.AppendIdentity(seed, resource))
}

// Convert reads one Kineto trace (plain JSON or gzip, detected by magic
// bytes) from r and calls emit with batches of spans. A batch and
// everything it points to is valid only during the emit call. All spans of
// one batch belong to one trace; a trace larger than Options.BatchSize
// spans is split into several batches, its root in the first. Traces come
// in step order, the profile trace last.
//
// Convert emits nothing until the whole input has been read and verified
// (JSON complete, gzip CRC trailer verified at io.EOF): a truncated file
// yields an *Error wrapping ErrTruncated and no spans. An error from emit
// aborts Convert and is returned wrapped. Stats are valid on error too (as
// far as they got).
func Convert(ctx context.Context, r io.Reader, opts Options, emit func(*span.Batch) error) (Stats, error) {
	return convert(ctx, r, opts, emit, tuning{})
}

// tuning shrinks the record chunks and bucket tails so that tests send
// small inputs through every scratch path; the zero value is Convert's.
type tuning struct {
	recordChunk int // records per chunk; 0 = recstore.DefaultChunk
	tailCap     int // values per bucket tail; 0 = sized from bucketBudget
	gather      int // bytes gathered into one Spill write; 0 = scratchPending
	// readMax, when set, hands the scanner its input in reads of 1 to
	// readMax bytes (a fixed pseudo-random sequence) instead of whole
	// read-ahead chunks, so every token meets a refill somewhere.
	readMax int
}

// oddReads returns reads of 1..max bytes from r, sizes drawn from a
// fixed xorshift sequence.
type oddReads struct {
	r     io.Reader
	max   int
	state uint64
}

func (o *oddReads) Read(p []byte) (int, error) {
	o.state ^= o.state << 13
	o.state ^= o.state >> 7
	o.state ^= o.state << 17
	n := 1 + int(o.state%uint64(o.max))
	return o.r.Read(p[:min(len(p), n)])
}

func convert(ctx context.Context, r io.Reader, opts Options, emit func(*span.Batch) error, tune tuning) (st Stats, err error) {
	ra := jsonscan.StartReadAhead(r)
	defer ra.Close()
	br := bufio.NewReaderSize(ra, seedPrefix)
	prefix, _ := br.Peek(seedPrefix)
	ids := fileIDs(prefix, opts.identity())
	st.Seed = ids.Seed()

	var in io.Reader = br
	if tune.readMax > 0 {
		in = &oddReads{r: br, max: tune.readMax, state: uint64(tune.readMax)<<32 | 0x9e3779b9}
	}
	p := newParser(ctx, in, &st)
	sc := recstore.NewScratch(opts.Spill)
	sc.SetGather(tune.gather)
	p.args.Spill, p.args.Scratch = opts.Spill, sc
	p.recs.Scratch = sc
	p.recs.PerChunk = tune.recordChunk
	defer func() {
		st.SpillBytes = sc.Flushed()
		st.ScratchBytes = sc.Written()
	}()
	err = p.run()
	st.JSONBytes = ra.Total()
	st.Compressed = ra.Compressed()
	p.finishStats()
	if err != nil {
		return st, err
	}
	if sc.Err() != nil {
		return st, &Error{Offset: -1, Reason: "writing to Options.Spill", Err: sc.Err()}
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	b := newBuilder(p, opts, ids, &st)
	b.dropRecords = true
	b.tailCap = tune.tailCap
	b.findSteps()
	if err := b.resolve(); err != nil {
		return st, err
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if err := b.emitAll(ctx, emit); err != nil {
		return st, err
	}
	st.Books = p.books.books(p.in)
	return st, nil
}

// finishStats turns the parser's counters into Stats maps.
func (p *parser) finishStats() {
	st := p.stats
	st.Events = p.nEvents
	st.ByPhase = map[string]int64{}
	for ph, n := range p.phaseCount {
		if n > 0 {
			k := string(rune(ph))
			if ph == 0 {
				k = ""
			}
			st.ByPhase[k] += n
		}
	}
	st.ByCategory = map[string]int64{}
	for cat, n := range p.catCount {
		if n > 0 {
			st.ByCategory[p.in.str(uint32(cat))] += n
		}
	}
	st.UnknownCategories = map[string]int64{}
	for cat, n := range p.unknownCats {
		st.UnknownCategories[p.in.str(cat)] += n
	}
	st.Records = int64(p.recs.Len())
	// The books: every element read is in catCount, but for the
	// non-objects, which count under "" as not exported.
	p.books.read = append(p.books.read[:0], p.catCount...)
	if n := p.books.notObjects; n > 0 {
		bumpN(&p.books.read, 0, n)
		bumpN(&p.books.omit[omitNotObject], 0, n)
	}
	st.RecordBytes = recordSize
	st.ArgBytes = p.args.Size()
}

// emitError wraps an error returned by the caller's emit function.
type emitError struct{ err error }

func (e *emitError) Error() string { return fmt.Sprintf("converter: emit: %v", e.err) }
func (e *emitError) Unwrap() error { return e.err }
