package converter

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/go-json-experiment/json/jsontext"
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
	dec   *jsontext.Decoder
	in    *interner
	recs  recordStore
	args  arena
	flows []flow
	meta  fileMeta

	scratch []byte
	unq     []byte
	ints    []int64

	phaseCount  [256]int64
	catCount    []int64
	unknownCats map[uint32]int64
	catKinds    []int16 // per cat id: -1 unknown yet, else kind+1; -2 internal; -3 generic known; -4 unknown
	threadNames map[uint64]uint32
	procNames   map[uint32]uint32
	nEvents     int64
	stats       *Stats

	// well-known interned ids
	kCorrelation, kExtID, kExtIDLower, kDevice, kStream, kName uint32
	cMemory, cOOM, cCPUInstant, cFwdBwd, cAc2g, cAc2gOld       uint32
}

func newParser(ctx context.Context, r io.Reader, st *Stats) *parser {
	p := &parser{
		ctx:         ctx,
		dec:         jsontext.NewDecoder(r, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)),
		in:          newInterner(),
		unknownCats: map[uint32]int64{},
		threadNames: map[uint64]uint32{},
		procNames:   map[uint32]uint32{},
		stats:       st,
	}
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

// text returns the unquoted bytes of a JSON string value, or the raw bytes
// of any other value. The result is valid until the next call.
func (p *parser) text(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' {
		return v
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	out, _ := jsontext.AppendUnquote(p.unq[:0], v)
	p.unq = out
	return out
}

func (p *parser) offset() int64 { return p.dec.InputOffset() }

// wrap classifies an error from the decoder.
func (p *parser) wrap(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if ctxErr := p.ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return newError(ErrTruncated, p.offset(), "JSON ends before the top-level object is closed")
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return &Error{Offset: se.ByteOffset, Reason: se.Error(), Err: ErrMalformed}
	}
	return &Error{Offset: p.offset(), Reason: err.Error(), Err: ErrMalformed}
}

// readErr reads the token that made PeekKind return 0 and wraps its error.
func (p *parser) readErr() error {
	_, err := p.dec.ReadToken()
	if err == nil {
		return newError(ErrMalformed, p.offset(), "unexpected token")
	}
	return p.wrap(err)
}

// run parses the whole input.
func (p *parser) run() error {
	tok, err := p.dec.ReadToken()
	if err != nil {
		if err == io.EOF {
			return newError(ErrTruncated, 0, "empty input")
		}
		return p.wrap(err)
	}
	if tok.Kind() != '{' {
		return newError(ErrNotKineto, 0, "top-level JSON value is %v, not an object", tok.Kind())
	}
	for {
		k := p.dec.PeekKind()
		if k == '}' {
			break
		}
		if k == 0 {
			return p.readErr()
		}
		kv, err := p.dec.ReadValue()
		if err != nil {
			return p.wrap(err)
		}
		key := p.text(kv)
		switch string(key) {
		case "traceEvents":
			if p.meta.sawEvents {
				return newError(ErrMalformed, p.offset(), "second traceEvents array")
			}
			p.meta.sawEvents = true
			if err := p.events(); err != nil {
				return err
			}
		case "baseTimeNanoseconds":
			v, err := p.dec.ReadValue()
			if err != nil {
				return p.wrap(err)
			}
			if n, ok := parseInt(p.text(v)); ok {
				p.meta.hasBase, p.meta.baseNs = true, n
				p.meta.baseBeforeEvents = !p.meta.sawEvents
			}
		case "deviceProperties", "distributedInfo":
			name := string(key)
			v, err := p.dec.ReadValue()
			if err != nil {
				return p.wrap(err)
			}
			if name == "deviceProperties" {
				p.meta.deviceProps = bytes.Clone(v)
			} else {
				p.meta.distInfo = bytes.Clone(v)
			}
		case "schemaVersion", "trace_id", "cuda_runtime_version", "cuda_driver_version", "cupti_version",
			"host_name", "displayTimeUnit", "traceName", "profile_memory", "with_stack", "record_shapes",
			"with_modules", "with_flops":
			name := string(key)
			v, err := p.dec.ReadValue()
			if err != nil {
				return p.wrap(err)
			}
			if k := v.Kind(); k == '"' || k == '0' || k == 't' || k == 'f' {
				p.meta.scalars[name] = string(p.in.str(p.in.id(p.text(v))))
			}
		default:
			if err := p.dec.SkipValue(); err != nil {
				return p.wrap(err)
			}
		}
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return p.wrap(err)
	}
	if _, err := p.dec.ReadToken(); err != io.EOF {
		if err == nil {
			return newError(ErrMalformed, p.offset(), "data after the top-level object")
		}
		return p.wrap(err)
	}
	if !p.meta.sawEvents {
		return newError(ErrNotKineto, -1, "no traceEvents array")
	}
	return nil
}

// eventBatch carries raw event objects, already framed and validated by
// the decoder, from the framing stage to the extraction stage.
type eventBatch struct {
	buf  []byte
	ends []int32  // end offset in buf of each event
	ords []uint32 // ordinal in traceEvents of each event
}

const (
	eventBatchBytes = 128 << 10
	eventBatchDepth = 4
)

// events reads the traceEvents array in two stages that run in parallel:
// this goroutine frames and validates each element with the decoder (so
// every syntax error and truncation is found and reported exactly here)
// and copies event objects into batches; an extraction goroutine picks the
// fields out of the validated bytes and stores the records, in order.
// events returns only after the extraction goroutine has finished.
func (p *parser) events() error {
	if k := p.dec.PeekKind(); k != '[' {
		if k == 0 {
			return p.readErr()
		}
		return newError(ErrMalformed, p.offset(), "traceEvents is %v, not an array", k)
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return p.wrap(err)
	}
	work := make(chan *eventBatch, eventBatchDepth)
	free := make(chan *eventBatch, eventBatchDepth+2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for eb := range work {
			start := int32(0)
			for k, end := range eb.ends {
				p.extract(eb.buf[start:end], eb.ords[k])
				start = end
			}
			select {
			case free <- eb:
			default:
			}
		}
	}()
	var skipped int64
	defer func() {
		close(work)
		<-done
		p.stats.Skipped += skipped
	}()
	cur := &eventBatch{buf: make([]byte, 0, eventBatchBytes)}
	for {
		k := p.dec.PeekKind()
		switch k {
		case ']':
			_, err := p.dec.ReadToken()
			if err != nil {
				return p.wrap(err)
			}
			if len(cur.ends) > 0 {
				work <- cur
			}
			return nil
		case 0:
			return p.readErr()
		case '{':
			raw, err := p.dec.ReadValue()
			if err != nil {
				return p.wrap(err)
			}
			if len(cur.buf)+len(raw) > eventBatchBytes && len(cur.ends) > 0 {
				work <- cur
				select {
				case cur = <-free:
					cur.buf, cur.ends, cur.ords = cur.buf[:0], cur.ends[:0], cur.ords[:0]
				default:
					cur = &eventBatch{buf: make([]byte, 0, eventBatchBytes)}
				}
			}
			cur.buf = append(cur.buf, raw...)
			cur.ends = append(cur.ends, int32(len(cur.buf)))
			cur.ords = append(cur.ords, uint32(p.nEvents))
		default:
			if err := p.dec.SkipValue(); err != nil {
				return p.wrap(err)
			}
			skipped++
		}
		p.nEvents++
		if p.nEvents&4095 == 0 {
			if err := p.ctx.Err(); err != nil {
				return err
			}
		}
	}
}

// evState collects one event's fields in any key order.
type evState struct {
	ph                  byte
	cat, name, pid, tid uint32
	ts, dur             int64
	hasTs, hasDur       bool
	id                  uint32
	corr, ext           int64
	flags               uint8
	argName             uint32 // args.name (M events)
}

// extract picks the fields of one event object (validated JSON) and
// stores its record. It runs on the extraction goroutine and touches only
// state no other goroutine uses while traceEvents is being read.
func (p *parser) extract(raw []byte, ordinal uint32) {
	ev := evState{}
	p.scratch = p.scratch[:0]
	it := newMemberIter(raw)
	for {
		kv, v, ok := it.next()
		if !ok {
			break
		}
		key := p.text(kv)
		var field byte
		switch string(key) {
		case "ph":
			field = 'p'
		case "cat":
			field = 'c'
		case "name":
			field = 'n'
		case "pid":
			field = 'P'
		case "tid":
			field = 'T'
		case "ts":
			field = 't'
		case "dur":
			field = 'd'
		case "id":
			field = 'i'
		case "args":
			p.parseArgs(&ev, v)
			continue
		default:
			continue
		}
		if vk := v[0]; vk == '{' || vk == '[' {
			continue // wrong type: ignore the field
		}
		t := p.text(v)
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
			ev.ts, ev.hasTs = parseMicrosToNs(t)
			if ev.hasTs && bytes.IndexByte(t, '.') >= 0 {
				p.meta.fracSeen = true
			}
		case 'd':
			ev.dur, ev.hasDur = parseMicrosToNs(t)
		case 'i':
			ev.id = p.in.id(t)
		}
	}
	p.store(&ev, ordinal)
}

// parseArgs encodes the members of an args object (validated JSON) into
// p.scratch; an args value that is not an object is ignored.
func (p *parser) parseArgs(ev *evState, obj []byte) {
	if obj[0] != '{' {
		return
	}
	it := newMemberIter(obj)
	for {
		kv, v, ok := it.next()
		if !ok {
			return
		}
		key := p.in.id(p.text(kv))
		switch v[0] {
		case '"':
			t := p.text(v)
			if isNaNWord(t) || string(t) == "N/A" {
				p.scratch = appendArgID(p.scratch, key, argNonNum, p.in.id(t))
				p.stats.NonNumeric++
			} else {
				id := p.in.id(t)
				p.scratch = appendArgID(p.scratch, key, argStr, id)
				if key == p.kName {
					ev.argName = id
				}
			}
		case 't', 'f':
			p.scratch = appendArgBool(p.scratch, key, v[0] == 't')
		case 'n':
			// null: nothing to keep
		case '[':
			if ints, ok := parseIntArray(v, p.ints[:0]); ok {
				p.ints = ints
				p.scratch = appendArgInts(p.scratch, key, ints)
			} else {
				p.scratch = appendArgID(p.scratch, key, argRaw, p.in.id(v))
			}
		case '{':
			p.scratch = appendArgID(p.scratch, key, argRaw, p.in.id(v))
		default: // a number
			if n, ok := parseInt(v); ok {
				p.scratch = appendArgInt(p.scratch, key, n)
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
				p.scratch = appendArgText(p.scratch, key, argFloat, v)
			}
		}
	}
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

func (p *parser) store(ev *evState, ordinal uint32) {
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
			return
		}
		if r.dur < 0 {
			r.dur = 0
		}
		switch c := p.catClass(ev.cat); {
		case c == catInternal:
			p.stats.Internal++
			if p.in.str(ev.cat) == "Trace" {
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
			return
		}
		name := p.in.str(ev.name)
		if bytes.HasPrefix([]byte(name), []byte("Iteration Start")) {
			p.stats.Internal++
			p.window(ev.ts, true)
			return
		}
		if name == "Record Window End" {
			p.stats.Internal++
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
		case p.cFwdBwd:
			p.stats.FlowsFwdBwd++
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
		}
		if r.kind != kindInstant {
			return
		}
	case 'M':
		p.stats.Metadata++
		switch p.in.str(ev.name) {
		case "thread_name":
			if ev.argName != 0 {
				p.threadNames[uint64(ev.pid)<<32|uint64(ev.tid)] = ev.argName
			}
		case "process_name":
			if ev.argName != 0 {
				p.procNames[ev.pid] = ev.argName
			}
		}
		return
	default:
		p.stats.UnknownPhases++
		if !ev.hasTs {
			p.stats.Skipped++
			return
		}
		r.kind = kindInstant
		if !ev.hasDur || r.dur < 0 {
			r.dur = 0
		}
	}
	if len(p.scratch) > 0 {
		r.args = p.args.add(p.scratch)
		r.argLen = uint32(len(p.scratch))
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
