package otlpjson

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// AppendProtoRequest appends the OTLP/JSON form of body, an encoded
// ExportTraceServiceRequest protobuf message, as one JSON object (no
// trailing newline). The bytes appended are exactly those of
// AppendExportRequest for the message proto.Unmarshal decodes from body,
// and an error is returned where proto.Unmarshal fails (dst is then
// returned unchanged).
//
// It reads the wire format directly and allocates nothing beyond growing
// dst when body is in the canonical form proto.Marshal and
// otlpproto.Builder write: known fields only, each message's fields in
// field-number order (Span.flags may be anywhere), no singular field
// repeated, at most one member of AnyValue's oneof, values nested at most
// 64 deep. Anything else (unknown fields, merges, malformed or
// non-UTF-8 input) is decoded with proto.Unmarshal and written with
// AppendExportRequest instead, so the result never depends on which path
// ran.
func AppendProtoRequest(dst, body []byte) ([]byte, error) {
	start := len(dst)
	out, ok := appendRequestWire(dst, body)
	if ok {
		return out, nil
	}
	dst = out[:start] // the same prefix, and whatever room the wire path grew
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return dst, fmt.Errorf("otlpjson: decoding protobuf request: %w", err)
	}
	return AppendExportRequest(dst, &req), nil
}

// maxDepth bounds the AnyValue nesting the wire path follows; deeper
// values take the proto.Unmarshal path (which has its own limit).
const maxDepth = 64

// next reads one field from b: its number, wire type, the value of a
// varint or fixed field or the payload of a length-delimited one, and the
// number of bytes read. n < 0 means malformed or a wire type the wire path
// does not handle (groups), both of which send the caller to the fallback.
func next(b []byte) (num uint64, typ protowire.Type, v uint64, p []byte, n int) {
	var tag uint64
	if len(b) > 0 && b[0] < 0x80 {
		tag, n = uint64(b[0]), 1
	} else {
		tag, n = protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, 0, 0, nil, -1
		}
	}
	num, typ = tag>>3, protowire.Type(tag&7)
	b = b[n:]
	var m int
	switch typ {
	case protowire.VarintType:
		if len(b) > 0 && b[0] < 0x80 {
			v, m = uint64(b[0]), 1
		} else if v, m = protowire.ConsumeVarint(b); m < 0 {
			return 0, 0, 0, nil, -1
		}
	case protowire.Fixed64Type:
		if len(b) < 8 {
			return 0, 0, 0, nil, -1
		}
		v, m = binary.LittleEndian.Uint64(b), 8
	case protowire.Fixed32Type:
		if len(b) < 4 {
			return 0, 0, 0, nil, -1
		}
		v, m = uint64(binary.LittleEndian.Uint32(b)), 4
	case protowire.BytesType:
		var l uint64
		if len(b) > 0 && b[0] < 0x80 {
			l, m = uint64(b[0]), 1
		} else if l, m = protowire.ConsumeVarint(b); m < 0 {
			return 0, 0, 0, nil, -1
		}
		if l > uint64(len(b)-m) {
			return 0, 0, 0, nil, -1
		}
		p = b[m : m+int(l)]
		m += int(l)
	default:
		return 0, 0, 0, nil, -1
	}
	return num, typ, v, p, n + m
}

// wobj writes one JSON object from a message's fields read in order. Each
// field has a rank, its position among the object's JSON members; ranks
// must rise from field to field, except that the elements of a repeated
// field follow each other. A field out of order fails the wire path.
type wobj struct {
	members
	last  int // rank of the last field read
	inArr bool
}

func openObj(dst []byte) wobj { return wobj{members: members{dst: append(dst, '{')}} }

// one accepts a singular field of rank r.
func (o *wobj) one(r int) bool {
	if r <= o.last {
		return false
	}
	o.closeArr()
	o.last = r
	return true
}

// elem accepts an element of the repeated field of rank r named k, writing
// the member's key and '[' before the first element, ',' before the others.
func (o *wobj) elem(r int, k string) bool {
	if r == o.last && o.inArr {
		o.dst = append(o.dst, ',')
		return true
	}
	if r <= o.last {
		return false
	}
	o.closeArr()
	o.last = r
	o.key(k)
	o.dst = append(o.dst, '[')
	o.inArr = true
	return true
}

func (o *wobj) closeArr() {
	if o.inArr {
		o.dst = append(o.dst, ']')
		o.inArr = false
	}
}

func (o *wobj) end() []byte {
	o.closeArr()
	return append(o.dst, '}')
}

// str writes a non-empty string member; false for invalid UTF-8.
func (o *wobj) str(k string, p []byte) bool {
	if len(p) == 0 {
		return true
	}
	o.key(k)
	var ok bool
	o.dst, ok = appendWireString(o.dst, p)
	return ok
}

// oneU32 writes the singular unsigned field of rank r as member k.
func (o *wobj) oneU32(r int, k string, v uint64) bool {
	if !o.one(r) {
		return false
	}
	o.u32(k, uint32(v))
	return true
}

// oneU64 writes the singular fixed64 field of rank r as member k.
func (o *wobj) oneU64(r int, k string, v uint64) bool {
	if !o.one(r) {
		return false
	}
	o.u64(k, v)
	return true
}

// oneI32 writes the singular int32 or enum field of rank r as member k.
func (o *wobj) oneI32(r int, k string, v uint64) bool {
	if !o.one(r) {
		return false
	}
	o.i32(k, int32(v))
	return true
}

// oneID writes the singular trace or span id of rank r as member k (hex).
func (o *wobj) oneID(r int, k string, p []byte) bool {
	if !o.one(r) {
		return false
	}
	o.hexID(k, p)
	return true
}

// msg writes member k (no key when k is empty: an array element) with the
// value appendWire makes of the payload p.
func (o *wobj) msg(k string, p []byte, appendWire func(dst, p []byte) ([]byte, bool)) bool {
	if k != "" {
		o.key(k)
	}
	var ok bool
	o.dst, ok = appendWire(o.dst, p)
	return ok
}

// appendAttributeWire writes an attribute, a KeyValue at depth 0.
func appendAttributeWire(dst, p []byte) ([]byte, bool) { return appendKeyValueWire(dst, p, 0) }

const (
	bytesT   = protowire.BytesType
	varintT  = protowire.VarintType
	fixed64T = protowire.Fixed64Type
	fixed32T = protowire.Fixed32Type
)

func appendRequestWire(dst, b []byte) ([]byte, bool) {
	dst = append(dst, `{"resourceSpans":[`...)
	first := true
	for len(b) > 0 {
		num, typ, _, p, n := next(b)
		if n < 0 || num != 1 || typ != bytesT {
			return dst, false
		}
		b = b[n:]
		if !first {
			dst = append(dst, ',')
		}
		first = false
		var ok bool
		if dst, ok = appendResourceSpansWire(dst, p); !ok {
			return dst, false
		}
	}
	return append(dst, "]}"...), true
}

// ResourceSpans: resource = 1, scope_spans = 2, schema_url = 3.
func appendResourceSpansWire(dst, b []byte) ([]byte, bool) {
	o := openObj(dst)
	for len(b) > 0 {
		num, typ, _, p, n := next(b)
		if n < 0 || typ != bytesT {
			return o.dst, false
		}
		b = b[n:]
		ok := false
		switch num {
		case 1:
			ok = o.one(1) && o.msg(`"resource":`, p, appendResourceWire)
		case 2:
			ok = o.elem(2, `"scopeSpans":`) && o.msg("", p, appendScopeSpansWire)
		case 3:
			ok = o.one(3) && o.str(`"schemaUrl":`, p)
		}
		if !ok {
			return o.dst, false
		}
	}
	return o.end(), true
}

// Resource: attributes = 1, dropped_attributes_count = 2, entity_refs = 3.
func appendResourceWire(dst, b []byte) ([]byte, bool) {
	o := openObj(dst)
	for len(b) > 0 {
		num, typ, v, p, n := next(b)
		if n < 0 {
			return o.dst, false
		}
		b = b[n:]
		ok := false
		switch {
		case num == 1 && typ == bytesT:
			ok = o.elem(1, `"attributes":`) && o.msg("", p, appendAttributeWire)
		case num == 2 && typ == varintT:
			ok = o.oneU32(2, `"droppedAttributesCount":`, v)
		case num == 3 && typ == bytesT:
			ok = o.elem(3, `"entityRefs":`) && o.msg("", p, appendEntityRefWire)
		}
		if !ok {
			return o.dst, false
		}
	}
	return o.end(), true
}

// EntityRef: schema_url = 1, type = 2, id_keys = 3, description_keys = 4.
func appendEntityRefWire(dst, b []byte) ([]byte, bool) {
	o := openObj(dst)
	for len(b) > 0 {
		num, typ, _, p, n := next(b)
		if n < 0 || typ != bytesT {
			return o.dst, false
		}
		b = b[n:]
		ok := false
		switch num {
		case 1:
			ok = o.one(1) && o.str(`"schemaUrl":`, p)
		case 2:
			ok = o.one(2) && o.str(`"type":`, p)
		case 3:
			ok = o.elem(3, `"idKeys":`) && o.msg("", p, appendWireString)
		case 4:
			ok = o.elem(4, `"descriptionKeys":`) && o.msg("", p, appendWireString)
		}
		if !ok {
			return o.dst, false
		}
	}
	return o.end(), true
}

// ScopeSpans: scope = 1, spans = 2, schema_url = 3.
func appendScopeSpansWire(dst, b []byte) ([]byte, bool) {
	o := openObj(dst)
	for len(b) > 0 {
		num, typ, _, p, n := next(b)
		if n < 0 || typ != bytesT {
			return o.dst, false
		}
		b = b[n:]
		ok := false
		switch num {
		case 1:
			ok = o.one(1) && o.msg(`"scope":`, p, appendScopeWire)
		case 2:
			ok = o.elem(2, `"spans":`) && o.msg("", p, appendSpanWire)
		case 3:
			ok = o.one(3) && o.str(`"schemaUrl":`, p)
		}
		if !ok {
			return o.dst, false
		}
	}
	return o.end(), true
}

// InstrumentationScope: name = 1, version = 2, attributes = 3,
// dropped_attributes_count = 4.
func appendScopeWire(dst, b []byte) ([]byte, bool) {
	o := openObj(dst)
	for len(b) > 0 {
		num, typ, v, p, n := next(b)
		if n < 0 {
			return o.dst, false
		}
		b = b[n:]
		ok := false
		switch {
		case num == 1 && typ == bytesT:
			ok = o.one(1) && o.str(`"name":`, p)
		case num == 2 && typ == bytesT:
			ok = o.one(2) && o.str(`"version":`, p)
		case num == 3 && typ == bytesT:
			ok = o.elem(3, `"attributes":`) && o.msg("", p, appendAttributeWire)
		case num == 4 && typ == varintT:
			ok = o.oneU32(4, `"droppedAttributesCount":`, v)
		}
		if !ok {
			return o.dst, false
		}
	}
	return o.end(), true
}

// Span members in JSON order (the ranks), with their field numbers:
// traceId 1, spanId 2, traceState 3, parentSpanId 4, flags 16, name 5,
// kind 6, startTimeUnixNano 7, endTimeUnixNano 8, attributes 9,
// droppedAttributesCount 10, events 11, droppedEventsCount 12, links 13,
// droppedLinksCount 14, status 15. Fields 1–15 have rank = number; flags
// (fixed32, written last by proto.Marshal) may come anywhere once and is
// inserted at its place after the other fields are written.
func appendSpanWire(dst, b []byte) ([]byte, bool) {
	o := openObj(dst)
	var flags uint32
	hasFlags := false
	insAt, insN := -1, 0 // where flags goes, and members before it
	for len(b) > 0 {
		num, typ, v, p, n := next(b)
		if n < 0 {
			return o.dst, false
		}
		b = b[n:]
		if num == 16 {
			if typ != fixed32T || hasFlags {
				return o.dst, false
			}
			flags, hasFlags = uint32(v), true
			continue
		}
		if insAt < 0 && num >= 5 {
			insAt, insN = len(o.dst), o.n
		}
		ok := false
		switch num {
		case 1:
			ok = typ == bytesT && o.oneID(1, `"traceId":`, p)
		case 2:
			ok = typ == bytesT && o.oneID(2, `"spanId":`, p)
		case 3:
			ok = typ == bytesT && o.one(3) && o.str(`"traceState":`, p)
		case 4:
			ok = typ == bytesT && o.oneID(4, `"parentSpanId":`, p)
		case 5:
			ok = typ == bytesT && o.one(5) && o.str(`"name":`, p)
		case 6:
			ok = typ == varintT && o.oneI32(6, `"kind":`, v)
		case 7:
			ok = typ == fixed64T && o.oneU64(7, `"startTimeUnixNano":`, v)
		case 8:
			ok = typ == fixed64T && o.oneU64(8, `"endTimeUnixNano":`, v)
		case 9:
			ok = typ == bytesT && o.elem(9, `"attributes":`) && o.msg("", p, appendAttributeWire)
		case 10:
			ok = typ == varintT && o.oneU32(10, `"droppedAttributesCount":`, v)
		case 11:
			ok = typ == bytesT && o.elem(11, `"events":`) && o.msg("", p, appendEventWire)
		case 12:
			ok = typ == varintT && o.oneU32(12, `"droppedEventsCount":`, v)
		case 13:
			ok = typ == bytesT && o.elem(13, `"links":`) && o.msg("", p, appendLinkWire)
		case 14:
			ok = typ == varintT && o.oneU32(14, `"droppedLinksCount":`, v)
		case 15:
			ok = typ == bytesT && o.one(15) && o.msg(`"status":`, p, appendStatusWire)
		}
		if !ok {
			return o.dst, false
		}
	}
	o.closeArr()
	if flags != 0 {
		if insAt < 0 {
			insAt, insN = len(o.dst), o.n
		}
		var tmp [24]byte
		m := tmp[:0]
		if insN > 0 {
			m = append(m, ',')
		}
		m = append(m, `"flags":`...)
		m = strconv.AppendUint(m, uint64(flags), 10)
		if insN == 0 && o.n > 0 {
			m = append(m, ',')
		}
		o.dst = slices.Insert(o.dst, insAt, m...)
		o.n++
	}
	return o.end(), true
}

// Span.Event: time_unix_nano = 1, name = 2, attributes = 3,
// dropped_attributes_count = 4.
func appendEventWire(dst, b []byte) ([]byte, bool) {
	o := openObj(dst)
	for len(b) > 0 {
		num, typ, v, p, n := next(b)
		if n < 0 {
			return o.dst, false
		}
		b = b[n:]
		ok := false
		switch {
		case num == 1 && typ == fixed64T:
			ok = o.oneU64(1, `"timeUnixNano":`, v)
		case num == 2 && typ == bytesT:
			ok = o.one(2) && o.str(`"name":`, p)
		case num == 3 && typ == bytesT:
			ok = o.elem(3, `"attributes":`) && o.msg("", p, appendAttributeWire)
		case num == 4 && typ == varintT:
			ok = o.oneU32(4, `"droppedAttributesCount":`, v)
		}
		if !ok {
			return o.dst, false
		}
	}
	return o.end(), true
}

// Span.Link: trace_id = 1, span_id = 2, trace_state = 3, attributes = 4,
// dropped_attributes_count = 5, flags = 6.
func appendLinkWire(dst, b []byte) ([]byte, bool) {
	o := openObj(dst)
	for len(b) > 0 {
		num, typ, v, p, n := next(b)
		if n < 0 {
			return o.dst, false
		}
		b = b[n:]
		ok := false
		switch {
		case num == 1 && typ == bytesT:
			ok = o.oneID(1, `"traceId":`, p)
		case num == 2 && typ == bytesT:
			ok = o.oneID(2, `"spanId":`, p)
		case num == 3 && typ == bytesT:
			ok = o.one(3) && o.str(`"traceState":`, p)
		case num == 4 && typ == bytesT:
			ok = o.elem(4, `"attributes":`) && o.msg("", p, appendAttributeWire)
		case num == 5 && typ == varintT:
			ok = o.oneU32(5, `"droppedAttributesCount":`, v)
		case num == 6 && typ == fixed32T:
			ok = o.oneU32(6, `"flags":`, v)
		}
		if !ok {
			return o.dst, false
		}
	}
	return o.end(), true
}

// Status: message = 2, code = 3.
func appendStatusWire(dst, b []byte) ([]byte, bool) {
	o := openObj(dst)
	for len(b) > 0 {
		num, typ, v, p, n := next(b)
		if n < 0 {
			return o.dst, false
		}
		b = b[n:]
		ok := false
		switch {
		case num == 2 && typ == bytesT:
			ok = o.one(2) && o.str(`"message":`, p)
		case num == 3 && typ == varintT:
			ok = o.oneI32(3, `"code":`, v)
		}
		if !ok {
			return o.dst, false
		}
	}
	return o.end(), true
}

// KeyValue: key = 1, value = 2, key_strindex = 3.
func appendKeyValueWire(dst, b []byte, depth int) ([]byte, bool) {
	// The common case without the general loop: a non-empty key, then a
	// value, each shorter than 128 bytes, and nothing else.
	if len(b) >= 4 && b[0] == 1<<3|2 && b[1] > 0 && b[1] < 0x80 {
		k := 2 + int(b[1])
		if k+2 <= len(b) && b[k] == 2<<3|2 && b[k+1] < 0x80 && k+2+int(b[k+1]) == len(b) {
			dst = append(dst, `{"key":`...)
			dst, ok := appendWireString(dst, b[2:k])
			if !ok {
				return dst, false
			}
			dst = append(dst, `,"value":`...)
			if dst, ok = appendAnyValueWire(dst, b[k+2:], depth); !ok {
				return dst, false
			}
			return append(dst, '}'), true
		}
	}
	o := openObj(dst)
	for len(b) > 0 {
		num, typ, v, p, n := next(b)
		if n < 0 {
			return o.dst, false
		}
		b = b[n:]
		ok := false
		switch {
		case num == 1 && typ == bytesT:
			ok = o.one(1) && o.str(`"key":`, p)
		case num == 2 && typ == bytesT:
			if ok = o.one(2); ok {
				o.key(`"value":`)
				o.dst, ok = appendAnyValueWire(o.dst, p, depth)
			}
		case num == 3 && typ == varintT:
			ok = o.oneI32(3, `"keyStrindex":`, v)
		}
		if !ok {
			return o.dst, false
		}
	}
	return o.end(), true
}

// AnyValue is a oneof: string_value = 1, bool_value = 2, int_value = 3,
// double_value = 4, array_value = 5, kvlist_value = 6, bytes_value = 7,
// string_value_strindex = 8. The wire path takes at most one field.
func appendAnyValueWire(dst, b []byte, depth int) ([]byte, bool) {
	dst = append(dst, '{')
	if len(b) == 0 {
		return append(dst, '}'), true
	}
	// Small integers and booleans (one-byte varints) without next.
	if len(b) == 2 && b[1] < 0x80 {
		switch b[0] {
		case 3<<3 | 0:
			dst = append(dst, `"intValue":"`...)
			dst = strconv.AppendUint(dst, uint64(b[1]), 10)
			return append(dst, '"', '}'), true
		case 2<<3 | 0:
			dst = append(dst, `"boolValue":`...)
			dst = strconv.AppendBool(dst, b[1] != 0)
			return append(dst, '}'), true
		}
	}
	num, typ, v, p, n := next(b)
	if n != len(b) {
		return dst, false
	}
	ok := true
	switch {
	case num == 1 && typ == bytesT:
		dst = append(dst, `"stringValue":`...)
		dst, ok = appendWireString(dst, p)
	case num == 2 && typ == varintT:
		dst = append(dst, `"boolValue":`...)
		dst = strconv.AppendBool(dst, v != 0)
	case num == 3 && typ == varintT:
		dst = append(dst, `"intValue":"`...)
		dst = strconv.AppendInt(dst, int64(v), 10)
		dst = append(dst, '"')
	case num == 4 && typ == fixed64T:
		dst = append(dst, `"doubleValue":`...)
		dst = appendFloat(dst, math.Float64frombits(v))
	case num == 5 && typ == bytesT && depth < maxDepth:
		dst = append(dst, `"arrayValue":`...)
		dst, ok = appendValuesWire(dst, p, depth+1, false)
	case num == 6 && typ == bytesT && depth < maxDepth:
		dst = append(dst, `"kvlistValue":`...)
		dst, ok = appendValuesWire(dst, p, depth+1, true)
	case num == 7 && typ == bytesT:
		dst = append(dst, `"bytesValue":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, p)
		dst = append(dst, '"')
	case num == 8 && typ == varintT:
		dst = append(dst, `"stringValueStrindex":`...)
		dst = strconv.AppendInt(dst, int64(int32(v)), 10)
	default:
		return dst, false
	}
	return append(dst, '}'), ok
}

// appendValuesWire writes an ArrayValue (values = 1, AnyValue) or, when kv
// is set, a KeyValueList (values = 1, KeyValue).
func appendValuesWire(dst, b []byte, depth int, kv bool) ([]byte, bool) {
	o := openObj(dst)
	for len(b) > 0 {
		num, typ, _, p, n := next(b)
		if n < 0 || num != 1 || typ != bytesT || !o.elem(1, `"values":`) {
			return o.dst, false
		}
		b = b[n:]
		ok := false
		if kv {
			o.dst, ok = appendKeyValueWire(o.dst, p, depth)
		} else {
			o.dst, ok = appendAnyValueWire(o.dst, p, depth)
		}
		if !ok {
			return o.dst, false
		}
	}
	return o.end(), true
}

const (
	lo = 0x0101010101010101
	hi = 0x8080808080808080
)

// plain marks the ASCII bytes a JSON string holds as they are.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendWireString writes p, a protobuf string, as a JSON string, escaped
// exactly as appendString does. It returns false if p is not valid UTF-8,
// which proto.Unmarshal refuses.
func appendWireString(dst, p []byte) ([]byte, bool) { return appendEscaped(dst, p, false) }

// appendEscaped writes p as a JSON string: '"', '\\' and control bytes
// escaped (appendEscape), everything else as it is. Invalid UTF-8 is
// written as \ufffd when replace is set, else it stops the write (false).
func appendEscaped(dst, p []byte, replace bool) ([]byte, bool) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(p); {
		// Skip 8 plain bytes at a time: none below 0x20, none at or above
		// 0x80, no '"' and no '\\' (exact tests, no false negatives).
		for i+8 <= len(p) {
			x := binary.LittleEndian.Uint64(p[i:])
			q := x ^ (lo * '"')
			b := x ^ (lo * '\\')
			if (x|(x-lo*0x20)|(q-lo)&^q|(b-lo)&^b)&hi != 0 {
				break
			}
			i += 8
		}
		if i >= len(p) {
			break
		}
		c := p[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, p[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			if !replace {
				return dst, false
			}
			dst = append(dst, p[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, p[start:]...)
	return append(dst, '"'), true
}
