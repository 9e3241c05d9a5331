package span

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
)

// AppendIdentity appends a canonical encoding of attrs to dst: the
// attributes sorted by key (the first of duplicate keys wins, as Lookup
// finds it), each as length-prefixed key, type tag and value. Equal
// attribute sets give equal bytes whatever their order; sets that differ in
// any key, type or value give different bytes. It is what ID seeds are
// made of, so that an export under a different service.name or resource
// gets different ids and a true retry the same ones.
func AppendIdentity(dst []byte, attrs []Attr) []byte {
	idx := make([]int, 0, len(attrs))
	for i := range attrs {
		idx = append(idx, i)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(attrs[a].Key, attrs[b].Key) })
	str := func(s string) {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	for k, i := range idx {
		a := &attrs[i]
		if k > 0 && attrs[idx[k-1]].Key == a.Key {
			continue
		}
		str(a.Key)
		v := &a.Value
		dst = append(dst, byte(v.Type))
		switch v.Type {
		case TypeString:
			str(v.Str)
		case TypeInt, TypeBool:
			dst = binary.AppendVarint(dst, v.Num)
		case TypeDouble:
			dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v.AsFloat()))
		case TypeStringSlice:
			dst = binary.AppendUvarint(dst, uint64(len(v.Strs)))
			for _, s := range v.Strs {
				str(s)
			}
		case TypeIntSlice:
			dst = binary.AppendUvarint(dst, uint64(len(v.Ints)))
			for _, n := range v.Ints {
				dst = binary.AppendVarint(dst, n)
			}
		}
	}
	return dst
}
