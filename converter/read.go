package converter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/jsonscan"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/recstore"
)

// flow is a stored fwdbwd flow event, bound later to the X event with the
// same (pid, tid, ts).
type flow struct {
	id       uint32 // interned id text
	ph       byte
	pid, tid uint32
	ts       int64
}

// fileMeta is what the top-level object says besides traceEvents.
type fileMeta struct {
	sawEvents        bool
	hasBase          bool
	baseBeforeEvents bool
	baseNs           int64
	scalars          map[string]string // schemaVersion, trace_id, versions, host_name, ...
	deviceProps      []byte            // raw JSON
	distInfo         []byte            // raw JSON

	hasWindowStart, hasWindowEnd bool
	windowStart, windowEnd       int64
	minTs, maxTs                 int64
	hasTs                        bool
	fracSeen                     bool
}

// parser walks the top-level object and stores records.
type parser struct {
	ctx   context.Context
	s     jsonscan.Scanner
	in    *interner
	recs  recordStore
	args  recstore.Arena
	flows []flow
	meta  fileMeta

	scratch []byte
	unq     []byte
	nameBuf []byte // a member name kept across a refill (see name)
	idText  []byte // the current event's "id" text, until classify
	ints    []int64

	// The store stage: events go to it in batches, in order, while
	// traceEvents is read (see events).
	cur      *evBatch
	work     chan *evBatch
	free     chan *evBatch
	stored   chan struct{}
	skipped  int64 // traceEvents elements that are not objects
	fracSeen bool  // a ts with a fraction (the store stage owns meta)

	phaseCount  [256]int64
	catCount    []int64
	unknownCats map[uint32]int64
	catKinds    []int16 // per cat id: -1 unknown yet, else kind+1; -2 internal; -3 generic known; -4 unknown
	threadNames map[uint64]uint32
	procNames   map[uint32]uint32
	nEvents     int64
	stats       *Stats
	books       ledger // the store stage's part of the books, then the builder's

	// well-known interned ids
	kCorrelation, kExtID, kExtIDLower, kDevice, kStream, kName uint32
	cMemory, cOOM, cCPUInstant, cFwdBwd, cAc2g, cAc2gOld       uint32
}

func newParser(ctx context.Context, r io.Reader, st *Stats) *parser {
	p := &parser{
		ctx:         ctx,
		in:          newInterner(),
		unknownCats: map[uint32]int64{},
		threadNames: map[uint64]uint32{},
		procNames:   map[uint32]uint32{},
		stats:       st,
	}
	p.s.Init(r)
	p.meta.scalars = map[string]string{}
	p.kCorrelation = p.in.idString("correlation")
	p.kExtID = p.in.idString("External id")
	p.kExtIDLower = p.in.idString("external id")
	p.kDevice = p.in.idString("device")
	p.kStream = p.in.idString("stream")
	p.kName = p.in.idString("name")
	p.cMemory = p.in.idString("[memory]")
	p.cOOM = p.in.idString("[OutOfMemory]")
	p.cCPUInstant = p.in.idString("cpu_instant_event")
	p.cFwdBwd = p.in.idString("fwdbwd")
	p.cAc2g = p.in.idString("ac2g")
	p.cAc2gOld = p.in.idString("async_cpu_to_gpu")
	return p
}

// strText returns the text of a raw JSON string (quotes included): its
// inner bytes, or, when it has escapes, the string decoded as jsontext
// decodes it (invalid escapes of surrogates become U+FFFD). The result is
// valid until the next call.
func (p *parser) strText(raw []byte, esc bool) []byte {
	if !esc {
		return raw[1 : len(raw)-1]
	}
	out, _ := jsontext.AppendUnquote(p.unq[:0], raw)
	p.unq = out
	return out
}

// scalar scans the string, number, literal or bare NaN word whose first
// byte c is at the cursor and returns its text (a string's decoded text,
// else the token as written) and kind ('"', '0', 't', 'f', 'n').
func (p *parser) scalar(c byte) ([]byte, byte, bool) {
	if c == '"' {
		raw, esc, ok := p.s.Str()
		if !ok {
			return nil, 0, false
		}
		return p.strText(raw, esc), '"', true
	}
	return p.s.Word()
}

// name scans an object member name (c is its first byte) and the colon
// after it and returns the name's text (valid until the next scan).
func (p *parser) name(c byte) ([]byte, bool) {
	var t []byte
	if c == '"' {
		raw, esc, ok := p.s.Str()
		if !ok {
			return nil, false
		}
		t = p.strText(raw, esc)
	} else {
		w, ok := p.s.NanName()
		if !ok {
			return nil, false
		}
		t = w
	}
	if p.s.Colon() { // the usual "key":
		return t, true
	}
	// The colon is not the next byte: finding it may refill the window,
	// which moves and overwrites the bytes t aliases (a name whose closing
	// quote ends a read, as at a 256 KiB read-ahead chunk boundary, came
	// back as the next chunk's first bytes: "ts" read as "[1" and the
	// event lost its time). Keep a copy across the refill.
	p.nameBuf = append(p.nameBuf[:0], t...)
	if !p.s.Expect(':', "':' after object name") {
		return nil, false
	}
	return p.nameBuf, true
}

// run parses the whole input.
func (p *parser) run() error {
	s := &p.s
	c, ok, eof := s.WSEOF()
	if eof {
		return newError(ErrTruncated, 0, "empty input")
	}
	if !ok {
		return s.Err()
	}
	if c != '{' {
		k, ok := s.Token(c)
		if !ok {
			return s.Err()
		}
		return newError(ErrNotKineto, 0, "top-level JSON value is %s, not an object", jsonscan.TokenKindName(k))
	}
	key, more, ok := p.firstMember()
	for ; more; key, more, ok = p.nextMember() {
		if !p.topMember(key) {
			return p.err()
		}
	}
	if !ok {
		return p.err()
	}
	c, ok, eof = s.WSEOF()
	if !eof {
		if !ok {
			return s.Err()
		}
		off := s.Off()
		if _, ok := s.Token(c); !ok {
			return s.Err()
		}
		return newError(ErrMalformed, off, "data after the top-level object")
	}
	if !p.meta.sawEvents {
		return newError(ErrNotKineto, -1, "no traceEvents array")
	}
	return nil
}

// err returns the first error: the scanner's, or a cancelled context.
func (p *parser) err() error {
	if p.s.Err() != nil {
		return p.s.Err()
	}
	if err := p.ctx.Err(); err != nil {
		return err
	}
	return newError(ErrMalformed, p.s.Off(), "parser stopped") // not reached
}

// topMember reads the value of the top-level object's member key (its
// name and colon read).
func (p *parser) topMember(key []byte) bool {
	s := &p.s
	if string(key) == "traceEvents" {
		if p.meta.sawEvents {
			s.Fail(newError(ErrMalformed, s.Off(), "second traceEvents array"))
			return false
		}
		p.meta.sawEvents = true
		return p.events()
	}
	field := string(key) // a copy only for the few keys kept below
	switch field {
	case "baseTimeNanoseconds", "deviceProperties", "distributedInfo",
		"schemaVersion", "trace_id", "cuda_runtime_version", "cuda_driver_version", "cupti_version",
		"host_name", "displayTimeUnit", "traceName", "profile_memory", "with_stack", "record_shapes",
		"with_modules", "with_flops", "vllm_version":
	default:
		c, ok := s.WS()
		return ok && s.Skip(c, 1)
	}
	c, ok := s.WS()
	if !ok {
		return false
	}
	switch field {
	case "baseTimeNanoseconds":
		if c == '{' || c == '[' {
			return s.Skip(c, 1)
		}
		t, _, ok := p.scalar(c)
		if !ok {
			return false
		}
		if n, ok := jsonscan.ParseInt(t); ok {
			p.meta.hasBase, p.meta.baseNs = true, n
			p.meta.baseBeforeEvents = !p.meta.sawEvents
		}
	case "deviceProperties", "distributedInfo":
		raw, _, ok := p.s.RawValue(c, 1)
		if !ok {
			return false
		}
		if field == "deviceProperties" {
			p.meta.deviceProps = bytes.Clone(raw)
		} else {
			p.meta.distInfo = bytes.Clone(raw)
		}
	default:
		if c == '{' || c == '[' {
			return s.Skip(c, 1)
		}
		t, k, ok := p.scalar(c)
		if !ok {
			return false
		}
		if k == '"' || k == '0' || k == 't' || k == 'f' {
			p.meta.scalars[field] = string(p.in.str(p.in.id(t)))
		}
	}
	return true
}

// events reads the traceEvents array: every element is validated, and
// each event object's fields are picked in the same pass and stored.
func (p *parser) events() bool {
	s := &p.s
	c, ok := s.WS()
	if !ok {
		return false
	}
	if c != '[' {
		return s.Syntax("traceEvents is %s, not an array", kindByFirstByte(c))
	}
	s.Advance()
	p.startStore()
	defer p.waitStore()
	if c, ok = s.WS(); !ok {
		return false
	}
	if c == ']' {
		s.Advance()
		return true
	}
	for {
		if c == '{' {
			if !p.event() {
				return false
			}
		} else {
			if !s.Skip(c, 2) {
				return false
			}
			p.skipped++
		}
		p.nEvents++
		if p.nEvents&4095 == 0 && p.ctx.Err() != nil {
			return false
		}
		if c, ok = s.WS(); !ok {
			return false
		}
		s.Advance()
		switch c {
		case ',':
			if c, ok = s.WS(); !ok {
				return false
			}
			continue
		case ']':
			return true
		}
		s.Unread()
		return s.Syntax("invalid character %q after an element of traceEvents", c)
	}
}

// kindByFirstByte names the kind of value that starts with c.
func kindByFirstByte(c byte) string {
	switch {
	case c == '"', c == '{':
		return jsonscan.TokenKindName(c)
	case c == '-', c >= '0' && c <= '9':
		return "number"
	case c == 't', c == 'f', c == 'n':
		return "a literal"
	}
	return fmt.Sprintf("%q", c)
}

// evState collects one event's fields in any key order.
type evState struct {
	ph                  byte
	cat, name, pid, tid uint32
	ts, dur             int64
	hasTs, hasDur       bool
	id                  uint32 // interned id text of a fwdbwd flow event (else 0)
	hasID               bool   // the event has an "id"; its text is in parser.idText
	corr, ext           int64
	flags               uint8
	argName             uint32 // args.name (M events)

	// Set by classify, on the reading goroutine (which owns the
	// interner), for the store stage.
	ordinal uint32
	argEnd  int32 // end of the event's args in its batch
	class   int16 // catClass of an X event
	special byte  // specTrace, specIterStart, ...
}

// What classify finds in an event's category or name.
const (
	specNone        byte = iota
	specTrace            // X event of Kineto's "Trace" category
	specIterStart        // instant "Iteration Start: ..."
	specWindowEnd        // instant "Record Window End"
	specThreadName       // M thread_name
	specProcessName      // M process_name
)

// classify looks up, on the reading goroutine, what the store stage needs
// to know about the event's interned category and name.
func (p *parser) classify(ev *evState) {
	if ev.hasID && ev.cat == p.cFwdBwd {
		ev.id = p.in.id(p.idText)
	}
	switch ev.ph {
	case 'X':
		ev.class = p.catClass(ev.cat)
		if ev.class == catInternal && p.in.str(ev.cat) == "Trace" {
			ev.special = specTrace
		}
	case 'i', 'I':
		name := p.in.str(ev.name)
		if strings.HasPrefix(name, "Iteration Start") {
			ev.special = specIterStart
		} else if name == "Record Window End" {
			ev.special = specWindowEnd
		}
	case 'M':
		switch p.in.str(ev.name) {
		case "thread_name":
			ev.special = specThreadName
		case "process_name":
			ev.special = specProcessName
		}
	}
}

// evBatch carries parsed events and their encoded args from the reading
// goroutine to the store stage.
type evBatch struct {
	evs  []evState
	args []byte
}

const (
	evBatchLen   = 1024
	evBatchDepth = 4
)

// startStore starts the store stage: a goroutine that turns events into
// records (the record store and args arena are written only there while
// traceEvents is read).
func (p *parser) startStore() {
	p.work = make(chan *evBatch, evBatchDepth)
	p.free = make(chan *evBatch, evBatchDepth+2)
	p.stored = make(chan struct{})
	p.cur = &evBatch{evs: make([]evState, 0, evBatchLen)}
	go func() {
		defer close(p.stored)
		for b := range p.work {
			start := int32(0)
			for k := range b.evs {
				ev := &b.evs[k]
				p.store(ev, b.args[start:ev.argEnd])
				start = ev.argEnd
			}
			select {
			case p.free <- b:
			default:
			}
		}
	}()
}

// queue hands one parsed event (with its args in p.scratch) to the store
// stage.
func (p *parser) queue(ev *evState) {
	ev.ordinal = uint32(p.nEvents)
	p.classify(ev)
	b := p.cur
	b.args = append(b.args, p.scratch...)
	ev.argEnd = int32(len(b.args))
	b.evs = append(b.evs, *ev)
	if len(b.evs) == evBatchLen || len(b.args) >= 1<<20 {
		p.flush()
	}
}

func (p *parser) flush() {
	if len(p.cur.evs) == 0 {
		return
	}
	p.work <- p.cur
	select {
	case p.cur = <-p.free:
		p.cur.evs, p.cur.args = p.cur.evs[:0], p.cur.args[:0]
	default:
		p.cur = &evBatch{evs: make([]evState, 0, evBatchLen)}
	}
}

// waitStore hands over the last batch and waits until the store stage
// has stored everything.
func (p *parser) waitStore() {
	p.flush()
	close(p.work)
	<-p.stored
	p.stats.Skipped += p.skipped
	p.books.notObjects += p.skipped
	p.meta.fracSeen = p.meta.fracSeen || p.fracSeen
	p.skipped, p.fracSeen = 0, false
}

// eventField names the event keys the parser uses.
func eventField(key []byte) byte {
	switch string(key) {
	case "ph":
		return 'p'
	case "cat":
		return 'c'
	case "name":
		return 'n'
	case "pid":
		return 'P'
	case "tid":
		return 'T'
	case "ts":
		return 't'
	case "dur":
		return 'd'
	case "id":
		return 'i'
	case "args":
		return 'a'
	}
	return 0
}

// event reads one event object (at the cursor) and stores its record.
func (p *parser) event() bool {
	s := &p.s
	ev := evState{}
	p.scratch = p.scratch[:0]
	key, more, ok := p.firstMember()
	for ; more; key, more, ok = p.nextMember() {
		field := eventField(key)
		c, ok := s.ValueStart()
		if !ok {
			return false
		}
		switch {
		case field == 'a' && c == '{':
			if !p.parseArgs(&ev) {
				return false
			}
		case field == 0 || c == '{' || c == '[':
			if !s.Skip(c, 3) { // wrong type for a known field: ignored
				return false
			}
		default:
			t, _, ok := p.scalar(c)
			if !ok {
				return false
			}
			switch field {
			case 'p':
				if len(t) > 0 {
					ev.ph = t[0]
				}
			case 'c':
				ev.cat = p.in.id(t)
			case 'n':
				ev.name = p.in.id(t)
			case 'P':
				ev.pid = p.in.id(t)
			case 'T':
				ev.tid = p.in.id(t)
			case 't':
				ev.ts, ev.hasTs = jsonscan.ParseMicrosToNs(t)
				if ev.hasTs && bytes.IndexByte(t, '.') >= 0 {
					p.fracSeen = true
				}
			case 'd':
				ev.dur, ev.hasDur = jsonscan.ParseMicrosToNs(t)
			case 'i':
				// Interned only for fwdbwd flows (classify): ac2g flow
				// ids are unique per launch and would grow the interner
				// with the file.
				p.idText = append(p.idText[:0], t...)
				ev.hasID = true
			}
		}
	}
	if !ok {
		return false
	}
	p.queue(&ev)
	return true
}

// firstMember enters the object whose '{' is at the cursor and reads the
// name (valid until the next scan) and colon of its first member; more is
// false when the object is empty (its '}' read).
func (p *parser) firstMember() (key []byte, more, ok bool) {
	s := &p.s
	s.Advance()
	c, ok := s.WS()
	if !ok {
		return nil, false, false
	}
	if c == '}' {
		s.Advance()
		return nil, false, true
	}
	key, ok = p.name(c)
	return key, ok, ok
}

// nextMember, once the value of a member is read, reads the ',' and the
// name and colon of the next member, or the object's '}' (more false).
func (p *parser) nextMember() (key []byte, more, ok bool) {
	s := &p.s
	if more, ok = s.AfterMember(); !more || !ok {
		return nil, false, ok
	}
	c, ok := s.WS()
	if !ok {
		return nil, false, false
	}
	key, ok = p.name(c)
	return key, ok, ok
}

// parseArgs encodes the members of the args object at the cursor into
// p.scratch.
func (p *parser) parseArgs(ev *evState) bool {
	s := &p.s
	kt, more, ok := p.firstMember()
	for ; more; kt, more, ok = p.nextMember() {
		key := p.in.id(kt)
		c, ok := s.ValueStart()
		if !ok {
			return false
		}
		switch c {
		case '{', '[':
			raw, ok := s.Capture(4)
			if !ok {
				return false
			}
			if c == '[' {
				if ints, ok := recstore.ParseIntArray(raw, p.ints[:0]); ok {
					p.ints = ints
					p.scratch = recstore.AppendArgInts(p.scratch, key, ints)
					break
				}
			}
			p.scratch = recstore.AppendArgID(p.scratch, key, recstore.ArgRaw, p.in.id(raw))
		default:
			t, k, ok := p.scalar(c)
			if !ok {
				return false
			}
			switch k {
			case '"':
				if jsonscan.IsNaNWord(t) || string(t) == "N/A" {
					p.scratch = recstore.AppendArgID(p.scratch, key, recstore.ArgNonNum, p.in.id(t))
					p.stats.NonNumeric++
				} else {
					id := p.in.id(t)
					p.scratch = recstore.AppendArgID(p.scratch, key, recstore.ArgStr, id)
					if key == p.kName {
						ev.argName = id
					}
				}
			case 't', 'f':
				p.scratch = recstore.AppendArgBool(p.scratch, key, k == 't')
			case 'n':
				// null: nothing to keep
			default: // a number
				if n, ok := jsonscan.ParseInt(t); ok {
					p.scratch = recstore.AppendArgInt(p.scratch, key, n)
					switch key {
					case p.kCorrelation:
						ev.corr = n
						ev.flags |= flagCorr
					case p.kExtID, p.kExtIDLower:
						ev.ext = n
						ev.flags |= flagExt
					case p.kDevice:
						ev.flags |= flagDevice
					case p.kStream:
						ev.flags |= flagStream
					}
				} else {
					p.scratch = recstore.AppendArgText(p.scratch, key, recstore.ArgFloat, t)
				}
			}
		}
	}
	return ok
}

// Kineto's own category and event names.
var (
	knownCategories = map[string]kind{
		"user_annotation": kindUserAnnot, "cpu_op": kindCPUOp, "python_function": kindPython,
		"cuda_runtime": kindLaunch, "cuda_driver": kindLaunch, "xpu_runtime": kindLaunch,
		"xpu_driver": kindLaunch, "mtia_runtime": kindLaunch, "privateuse1_runtime": kindLaunch,
		"privateuse1_driver": kindLaunch, "glow_runtime": kindLaunch,
		"kernel": kindKernel, "Kernel": kindKernel, "gpu_memcpy": kindMemcpy, "Memcpy": kindMemcpy,
		"gpu_memset": kindMemset, "Memset": kindMemset, "gpu_user_annotation": kindGPUAnnot,
		"cuda_sync": kindGPUOther, "cuda_event": kindGPUOther, "xpu_sync": kindGPUOther,
	}
	// Known to Kineto, exported as generic spans (CPU or GPU side by args).
	genericCategories = map[string]bool{
		"external_correlation": true, "cpu_instant_event": true, "mtia_ccp_events": true,
		"mtia_insight": true, "mtia_counters": true, "cuda_profiler_range": true, "hpu_op": true,
		"collective_comm": true, "xpu_scope_profiler": true, "hardware_counters": true,
	}
	internalCategories = map[string]bool{"Trace": true, "overhead": true}
)

const (
	catUnset    int16 = 0
	catInternal int16 = -1
	catGeneric  int16 = -2
	catUnknown  int16 = -3
)

func (p *parser) catClass(cat uint32) int16 {
	for int(cat) >= len(p.catKinds) {
		p.catKinds = append(p.catKinds, catUnset)
	}
	c := p.catKinds[cat]
	if c != catUnset {
		return c
	}
	s := p.in.str(cat)
	switch {
	case internalCategories[s]:
		c = catInternal
	case genericCategories[s]:
		c = catGeneric
	default:
		if k, ok := knownCategories[s]; ok {
			c = int16(k) + 1
		} else {
			c = catUnknown
		}
	}
	p.catKinds[cat] = c
	return c
}

func (p *parser) countCat(cat uint32) {
	for int(cat) >= len(p.catCount) {
		p.catCount = append(p.catCount, 0)
	}
	p.catCount[cat]++
}

// store turns one event into a record (or counts it). It runs on the store
// stage and must not use the interner.
func (p *parser) store(ev *evState, args []byte) {
	ordinal := ev.ordinal
	p.phaseCount[ev.ph]++
	p.countCat(ev.cat)
	r := record{
		ts: ev.ts, dur: ev.dur, link: ev.corr,
		name: ev.name, cat: ev.cat, pid: ev.pid, tid: ev.tid, ordinal: ordinal,
		ph: ev.ph, flags: ev.flags &^ flagExt,
	}
	switch ev.ph {
	case 'X':
		if !ev.hasTs {
			p.stats.Skipped++
			p.books.omitted(omitNoTs, ev.cat)
			return
		}
		if r.dur < 0 {
			r.dur = 0
		}
		switch c := ev.class; {
		case c == catInternal:
			p.stats.Internal++
			p.books.omitted(omitInternal, ev.cat)
			if ev.special == specTrace {
				p.window(ev.ts, true)
				p.window(ev.ts+r.dur, false)
			}
			return
		case c > 0:
			r.kind = kind(c - 1)
			if (r.kind == kindUserAnnot || r.kind == kindGPUAnnot) && ev.flags&flagExt != 0 {
				r.link = ev.ext
				r.flags = r.flags&^flagCorr | flagExt
			}
		default:
			if c == catUnknown {
				p.unknownCats[ev.cat]++
			}
			if ev.flags&flagCorr != 0 && ev.flags&(flagDevice|flagStream) != 0 {
				r.kind = kindGPUOther
			} else {
				r.kind = kindCPUOther
			}
		}
	case 'i', 'I':
		if !ev.hasTs {
			p.stats.Skipped++
			p.books.omitted(omitNoTs, ev.cat)
			return
		}
		if ev.special == specIterStart {
			p.stats.Internal++
			p.books.omitted(omitInternal, ev.cat)
			p.window(ev.ts, true)
			return
		}
		if ev.special == specWindowEnd {
			p.stats.Internal++
			p.books.omitted(omitInternal, ev.cat)
			p.window(ev.ts, false)
			return
		}
		r.kind, r.dur = kindInstant, 0
		if ev.name == p.cMemory || ev.name == p.cOOM {
			r.flags |= flagMemory
			p.stats.MemoryEvents++
		}
	case 's', 'f', 't':
		switch ev.cat {
		case p.cAc2g, p.cAc2gOld:
			p.stats.FlowsAc2g++
			p.books.omitted(omitFlow, ev.cat)
		case p.cFwdBwd:
			p.stats.FlowsFwdBwd++
			p.books.omitted(omitFlow, ev.cat)
			if ev.hasTs && ev.ph != 't' {
				p.flows = append(p.flows, flow{id: ev.id, ph: ev.ph, pid: ev.pid, tid: ev.tid, ts: ev.ts})
			}
		default:
			p.stats.UnknownPhases++
			if ev.hasTs {
				r.kind, r.dur = kindInstant, 0
				break
			}
			p.stats.Skipped++
			p.books.omitted(omitNoTs, ev.cat)
		}
		if r.kind != kindInstant {
			return
		}
	case 'M':
		p.stats.Metadata++
		p.books.omitted(omitMetadata, ev.cat)
		switch ev.special {
		case specThreadName:
			if ev.argName != 0 {
				p.threadNames[uint64(ev.pid)<<32|uint64(ev.tid)] = ev.argName
			}
		case specProcessName:
			if ev.argName != 0 {
				p.procNames[ev.pid] = ev.argName
			}
		}
		return
	default:
		p.stats.UnknownPhases++
		if !ev.hasTs {
			p.stats.Skipped++
			p.books.omitted(omitNoTs, ev.cat)
			return
		}
		r.kind = kindInstant
		if !ev.hasDur || r.dur < 0 {
			r.dur = 0
		}
	}
	if len(args) > 0 {
		r.args = p.args.Add(args)
		r.argLen = uint32(len(args))
	}
	if !p.meta.hasTs || r.ts < p.meta.minTs {
		p.meta.minTs = r.ts
	}
	if !p.meta.hasTs || r.end() > p.meta.maxTs {
		p.meta.maxTs = r.end()
	}
	p.meta.hasTs = true
	p.recs.add(r)
}

// window widens the capture window that bounds the profile root.
func (p *parser) window(ts int64, start bool) {
	if start {
		if !p.meta.hasWindowStart || ts < p.meta.windowStart {
			p.meta.windowStart, p.meta.hasWindowStart = ts, true
		}
		return
	}
	if !p.meta.hasWindowEnd || ts > p.meta.windowEnd {
		p.meta.windowEnd, p.meta.hasWindowEnd = ts, true
	}
}
