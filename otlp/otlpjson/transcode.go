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
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
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

// wkind says what one field holds and how the wire path writes it.
type wkind uint8

const (
	wNone   wkind = iota // not a field the wire path knows: the fallback
	wStr                 // singular string
	wStrs                // repeated string
	wU32                 // singular uint32 (varint or fixed32)
	wI32                 // singular int32 or enum
	wU64                 // singular fixed64, written as a decimal string
	wID                  // singular trace or span id, written in hex
	wMsg                 // singular message of the fields in sub
	wMsgs                // repeated message of the fields in sub
	wSpans               // repeated Span (appendSpanWire)
	wAttrs               // repeated KeyValue (appendKeyValueWire)
	wValue               // singular AnyValue (appendAnyValueWire)
	wValues              // repeated AnyValue (appendAnyValueWire)
)

// wfield describes field number i of a message at index i of the
// message's table. Its rank (see wobj) is its field number: every message
// the wire path writes lists its JSON members in field-number order, but
// for Span.flags, which appendSpanWire places itself.
type wfield struct {
	typ  protowire.Type // the wire type the field must have
	kind wkind
	rep  bool     // repeated: an element, written by wobj.elem
	key  string   // the member's quoted key and colon
	sub  []wfield // wMsg and wMsgs: the message's own table
}

// The tables of the messages the wire path writes through
// appendMessageWire, and of Span's fields (appendSpanWire takes flags
// before its table), made from the generated descriptors, so that the
// keys and wire types are the protos' own. They hold the fields
// AppendExportRequest writes.
var (
	resourceSpansFields = wireFields((&tracepb.ResourceSpans{}).ProtoReflect().Descriptor())
	spanFields          = wireFields((&tracepb.Span{}).ProtoReflect().Descriptor())
	keyValueFields      = wireFields((&commonpb.KeyValue{}).ProtoReflect().Descriptor())
	arrayValueFields    = wireFields((&commonpb.ArrayValue{}).ProtoReflect().Descriptor())
	keyValueListFields  = wireFields((&commonpb.KeyValueList{}).ProtoReflect().Descriptor())
)

// wireFields makes the table of the message md, one entry per field
// number; a field of a kind the wire path does not write is left wNone,
// which sends a message holding it to the fallback. Span, KeyValue and
// AnyValue fields are written by their own functions (wSpans, wAttrs,
// wValue, wValues), any other message field through its own table.
func wireFields(md protoreflect.MessageDescriptor) []wfield {
	spanName := (&tracepb.Span{}).ProtoReflect().Descriptor().FullName()
	keyValueName := (&commonpb.KeyValue{}).ProtoReflect().Descriptor().FullName()
	anyValueName := (&commonpb.AnyValue{}).ProtoReflect().Descriptor().FullName()
	fs := md.Fields()
	var t []wfield
	for i := range fs.Len() {
		f := fs.Get(i)
		rep := f.Cardinality() == protoreflect.Repeated
		w := wfield{typ: bytesT, rep: rep, key: `"` + f.JSONName() + `":`}
		switch k := f.Kind(); {
		case k == protoreflect.StringKind && rep:
			w.kind = wStrs
		case k == protoreflect.StringKind:
			w.kind = wStr
		case k == protoreflect.BytesKind && !rep: // trace and span ids
			w.kind = wID
		case k == protoreflect.Uint32Kind && !rep:
			w.typ, w.kind = varintT, wU32
		case k == protoreflect.Fixed32Kind && !rep:
			w.typ, w.kind = fixed32T, wU32
		case (k == protoreflect.Int32Kind || k == protoreflect.EnumKind) && !rep:
			w.typ, w.kind = varintT, wI32
		case k == protoreflect.Fixed64Kind && !rep:
			w.typ, w.kind = fixed64T, wU64
		case k == protoreflect.MessageKind:
			switch m := f.Message().FullName(); {
			case m == spanName && rep:
				w.kind = wSpans
			case m == keyValueName && rep:
				w.kind = wAttrs
			case m == anyValueName && rep:
				w.kind = wValues
			case m == anyValueName:
				w.kind = wValue
			case rep:
				w.kind, w.sub = wMsgs, wireFields(f.Message())
			default:
				w.kind, w.sub = wMsg, wireFields(f.Message())
			}
		}
		if n := int(f.Number()); w.kind != wNone {
			t = append(t, make([]wfield, max(0, n+1-len(t)))...)
			t[n] = w
		}
	}
	return t
}

// field writes field num, of wire type typ with the value v or payload p
// that next read, as the table fields says; false sends the caller to the
// fallback (a field the table does not know, of another wire type, or out
// of order). depth is the AnyValue nesting of the message being written.
func (o *wobj) field(fields []wfield, num uint64, typ protowire.Type, v uint64, p []byte, depth int) bool {
	if num >= uint64(len(fields)) || fields[num].kind == wNone || fields[num].typ != typ {
		return false
	}
	f, r := &fields[num], int(num)
	if f.rep && !o.elem(r, f.key) || !f.rep && !o.one(r) {
		return false
	}
	ok := true
	switch f.kind {
	case wStr:
		ok = o.str(f.key, p)
	case wU32:
		o.u32(f.key, uint32(v))
	case wI32:
		o.i32(f.key, int32(v))
	case wU64:
		o.u64(f.key, v)
	case wID:
		o.hexID(f.key, p)
	case wStrs:
		o.dst, ok = appendWireString(o.dst, p)
	case wMsg:
		o.key(f.key)
		fallthrough
	case wMsgs:
		o.dst, ok = appendMessageWire(o.dst, p, f.sub, depth)
	case wSpans:
		o.dst, ok = appendSpanWire(o.dst, p)
	case wAttrs:
		o.dst, ok = appendKeyValueWire(o.dst, p, depth)
	case wValue:
		o.key(f.key)
		fallthrough
	case wValues:
		o.dst, ok = appendAnyValueWire(o.dst, p, depth)
	}
	return ok
}

// appendMessageWire writes the message b, whose fields are described by
// the table fields, as one JSON object.
func appendMessageWire(dst, b []byte, fields []wfield, depth int) ([]byte, bool) {
	o := openObj(dst)
	for len(b) > 0 {
		num, typ, v, p, n := next(b)
		if n < 0 || !o.field(fields, num, typ, v, p, depth) {
			return o.dst, false
		}
		b = b[n:]
	}
	return o.end(), true
}

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
		if dst, ok = appendMessageWire(dst, p, resourceSpansFields, 0); !ok {
			return dst, false
		}
	}
	return append(dst, "]}"...), true
}

// appendSpanWire writes a Span. Its members in JSON order (the ranks),
// with their field numbers: traceId 1, spanId 2, traceState 3,
// parentSpanId 4, flags 16, name 5, kind 6, startTimeUnixNano 7,
// endTimeUnixNano 8, attributes 9, droppedAttributesCount 10, events 11,
// droppedEventsCount 12, links 13, droppedLinksCount 14, status 15.
// Fields 1–15 have rank = number (spanFields); flags (fixed32, written
// last by proto.Marshal) may come anywhere once and is inserted at its
// place after the other fields are written.
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
		if !o.field(spanFields, num, typ, v, p, 0) {
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

// appendKeyValueWire writes a KeyValue (keyValueFields) at AnyValue
// nesting depth.
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
	return appendMessageWire(dst, b, keyValueFields, depth)
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
		dst, ok = appendMessageWire(dst, p, arrayValueFields, depth+1)
	case num == 6 && typ == bytesT && depth < maxDepth:
		dst = append(dst, `"kvlistValue":`...)
		dst, ok = appendMessageWire(dst, p, keyValueListFields, depth+1)
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
