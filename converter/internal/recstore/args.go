package recstore

import (
	"encoding/binary"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/jsonscan"
)

// Encoded arg value types in the args arena. Each arg is: uvarint key id,
// one type byte, then the payload.
const (
	ArgInt    byte = iota + 1 // varint
	ArgFloat                  // uvarint length + number text (parsed only at emit time)
	ArgStr                    // uvarint interned string id
	ArgBool                   // one byte
	ArgIntArr                 // uvarint count + varints
	ArgRaw                    // uvarint interned id of raw JSON text (nested arrays, objects)
	ArgNonNum                 // uvarint interned id of a non-number where a number belongs ("inf", "nan", "N/A")
)

func AppendArgInt(b []byte, key uint32, v int64) []byte {
	b = binary.AppendUvarint(b, uint64(key))
	b = append(b, ArgInt)
	return binary.AppendVarint(b, v)
}

func AppendArgText(b []byte, key uint32, typ byte, text []byte) []byte {
	b = binary.AppendUvarint(b, uint64(key))
	b = append(b, typ)
	b = binary.AppendUvarint(b, uint64(len(text)))
	return append(b, text...)
}

func AppendArgID(b []byte, key uint32, typ byte, id uint32) []byte {
	b = binary.AppendUvarint(b, uint64(key))
	b = append(b, typ)
	return binary.AppendUvarint(b, uint64(id))
}

func AppendArgBool(b []byte, key uint32, v bool) []byte {
	b = binary.AppendUvarint(b, uint64(key))
	var x byte
	if v {
		x = 1
	}
	return append(b, ArgBool, x)
}

func AppendArgInts(b []byte, key uint32, v []int64) []byte {
	b = binary.AppendUvarint(b, uint64(key))
	b = append(b, ArgIntArr)
	b = binary.AppendUvarint(b, uint64(len(v)))
	for _, x := range v {
		b = binary.AppendVarint(b, x)
	}
	return b
}

// ArgValue is one decoded arg. Ints is only valid until the next call of
// ArgIter.next.
type ArgValue struct {
	Key  uint32
	Typ  byte
	Num  int64   // ArgInt, ArgBool
	Text []byte  // ArgFloat
	ID   uint32  // ArgStr, ArgRaw, ArgNonNum
	Ints []int64 // ArgIntArr
}

// ArgIter walks encoded args. The arena bytes were written by this package,
// so decoding trusts their shape but still never reads out of bounds.
type ArgIter struct {
	b    []byte
	ints []int64
}

// Reset makes the iterator walk b (bytes from Arena.Get).
func (it *ArgIter) Reset(b []byte) { it.b = b }

// Next decodes the next arg into v; false at the end or on bytes of
// another shape.
func (it *ArgIter) Next(v *ArgValue) bool {
	if len(it.b) == 0 {
		return false
	}
	k, n := binary.Uvarint(it.b)
	if n <= 0 || n >= len(it.b) {
		it.b = nil
		return false
	}
	v.Key = uint32(k)
	v.Typ = it.b[n]
	it.b = it.b[n+1:]
	switch v.Typ {
	case ArgInt:
		x, m := binary.Varint(it.b)
		if m <= 0 {
			it.b = nil
			return false
		}
		v.Num, it.b = x, it.b[m:]
	case ArgBool:
		if len(it.b) == 0 {
			return false
		}
		v.Num, it.b = int64(it.b[0]), it.b[1:]
	case ArgFloat:
		l, m := binary.Uvarint(it.b)
		if m <= 0 || uint64(len(it.b)-m) < l {
			it.b = nil
			return false
		}
		v.Text, it.b = it.b[m:m+int(l)], it.b[m+int(l):]
	case ArgStr, ArgRaw, ArgNonNum:
		x, m := binary.Uvarint(it.b)
		if m <= 0 {
			it.b = nil
			return false
		}
		v.ID, it.b = uint32(x), it.b[m:]
	case ArgIntArr:
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
		v.Ints = it.ints
	default:
		it.b = nil
		return false
	}
	return true
}

// parseIntArray parses a raw JSON array of integers ("[512, 1, 1]"). ok is
// false if the value is anything else.
func ParseIntArray(raw []byte, dst []int64) ([]int64, bool) {
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
