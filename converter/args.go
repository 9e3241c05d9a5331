package converter

import (
	"encoding/binary"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/jsonscan"
)

// Encoded arg value types in the args arena. Each arg is: uvarint key id,
// one type byte, then the payload.
const (
	argInt    byte = iota + 1 // varint
	argFloat                  // uvarint length + number text (parsed only at emit time)
	argStr                    // uvarint interned string id
	argBool                   // one byte
	argIntArr                 // uvarint count + varints
	argRaw                    // uvarint interned id of raw JSON text (nested arrays, objects)
	argNonNum                 // uvarint interned id of a non-number where a number belongs ("inf", "nan", "N/A")
)

func appendArgInt(b []byte, key uint32, v int64) []byte {
	b = binary.AppendUvarint(b, uint64(key))
	b = append(b, argInt)
	return binary.AppendVarint(b, v)
}

func appendArgText(b []byte, key uint32, typ byte, text []byte) []byte {
	b = binary.AppendUvarint(b, uint64(key))
	b = append(b, typ)
	b = binary.AppendUvarint(b, uint64(len(text)))
	return append(b, text...)
}

func appendArgID(b []byte, key uint32, typ byte, id uint32) []byte {
	b = binary.AppendUvarint(b, uint64(key))
	b = append(b, typ)
	return binary.AppendUvarint(b, uint64(id))
}

func appendArgBool(b []byte, key uint32, v bool) []byte {
	b = binary.AppendUvarint(b, uint64(key))
	var x byte
	if v {
		x = 1
	}
	return append(b, argBool, x)
}

func appendArgInts(b []byte, key uint32, v []int64) []byte {
	b = binary.AppendUvarint(b, uint64(key))
	b = append(b, argIntArr)
	b = binary.AppendUvarint(b, uint64(len(v)))
	for _, x := range v {
		b = binary.AppendVarint(b, x)
	}
	return b
}

// argValue is one decoded arg. Ints is only valid until the next call of
// argIter.next.
type argValue struct {
	key  uint32
	typ  byte
	num  int64   // argInt, argBool
	text []byte  // argFloat
	id   uint32  // argStr, argRaw, argNonNum
	ints []int64 // argIntArr
}

// argIter walks encoded args. The arena bytes were written by this package,
// so decoding trusts their shape but still never reads out of bounds.
type argIter struct {
	b    []byte
	ints []int64
}

func (it *argIter) next(v *argValue) bool {
	if len(it.b) == 0 {
		return false
	}
	k, n := binary.Uvarint(it.b)
	if n <= 0 || n >= len(it.b) {
		it.b = nil
		return false
	}
	v.key = uint32(k)
	v.typ = it.b[n]
	it.b = it.b[n+1:]
	switch v.typ {
	case argInt:
		x, m := binary.Varint(it.b)
		if m <= 0 {
			it.b = nil
			return false
		}
		v.num, it.b = x, it.b[m:]
	case argBool:
		if len(it.b) == 0 {
			return false
		}
		v.num, it.b = int64(it.b[0]), it.b[1:]
	case argFloat:
		l, m := binary.Uvarint(it.b)
		if m <= 0 || uint64(len(it.b)-m) < l {
			it.b = nil
			return false
		}
		v.text, it.b = it.b[m:m+int(l)], it.b[m+int(l):]
	case argStr, argRaw, argNonNum:
		x, m := binary.Uvarint(it.b)
		if m <= 0 {
			it.b = nil
			return false
		}
		v.id, it.b = uint32(x), it.b[m:]
	case argIntArr:
		l, m := binary.Uvarint(it.b)
		if m <= 0 || l > uint64(len(it.b)) {
			it.b = nil
			return false
		}
		it.b = it.b[m:]
		it.ints = it.ints[:0]
		for i := uint64(0); i < l; i++ {
			x, m := binary.Varint(it.b)
			if m <= 0 {
				it.b = nil
				return false
			}
			it.ints = append(it.ints, x)
			it.b = it.b[m:]
		}
		v.ints = it.ints
	default:
		it.b = nil
		return false
	}
	return true
}

// parseIntArray parses a raw JSON array of integers ("[512, 1, 1]"). ok is
// false if the value is anything else.
func parseIntArray(raw []byte, dst []int64) ([]int64, bool) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return dst, false
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return dst, skipWS(raw, i+1) == len(raw)
	}
	for {
		j := i
		for j < len(raw) && (raw[j] == '-' || (raw[j] >= '0' && raw[j] <= '9')) {
			j++
		}
		x, ok := jsonscan.ParseInt(raw[i:j])
		if !ok {
			return dst, false
		}
		dst = append(dst, x)
		i = skipWS(raw, j)
		if i >= len(raw) {
			return dst, false
		}
		switch raw[i] {
		case ',':
			i = skipWS(raw, i+1)
		case ']':
			return dst, skipWS(raw, i+1) == len(raw)
		default:
			return dst, false
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}
