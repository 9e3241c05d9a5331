package recstore

import (
	"fmt"
	"testing"
)

func TestParseIntArray(t *testing.T) {
	tests := []struct {
		in   string
		want []int64
		ok   bool
	}{
		{"[512, 1, 1]", []int64{512, 1, 1}, true},
		{"[]", nil, true},
		{"[ -1 ]", []int64{-1}, true},
		{"[1.5]", nil, false},
		{"[[1]]", nil, false},
		{`["a"]`, nil, false},
		{"[1,]", nil, false},
		{"[1", nil, false},
	}
	for _, tc := range tests {
		got, ok := ParseIntArray([]byte(tc.in), nil)
		if ok != tc.ok || (ok && len(got) != len(tc.want)) {
			t.Errorf("ParseIntArray(%q) = %v, %v", tc.in, got, ok)
			continue
		}
		for i := range tc.want {
			if got[i] != tc.want[i] {
				t.Errorf("ParseIntArray(%q) = %v", tc.in, got)
			}
		}
	}
}

// TestArgsRoundTrip encodes one arg of every type and decodes them in
// order; the oracle is the list of values written.
func TestArgsRoundTrip(t *testing.T) {
	var b []byte
	b = AppendArgInt(b, 1, -1<<40)
	b = AppendArgText(b, 2, ArgFloat, []byte("1.5e-3"))
	b = AppendArgID(b, 300, ArgStr, 7)
	b = AppendArgBool(b, 4, true)
	b = AppendArgInts(b, 5, []int64{512, -1, 0})
	b = AppendArgID(b, 6, ArgRaw, 1<<20)
	b = AppendArgID(b, 7, ArgNonNum, 0)
	b = AppendArgBool(b, 8, false)
	want := []string{
		"1 1 -1099511627776  0 []", "2 2 0 1.5e-3 0 []", "300 3 0  7 []", "4 4 1  0 []",
		"5 5 0  0 [512 -1 0]", "6 6 0  1048576 []", "7 7 0  0 []", "8 4 0  0 []",
	}
	var it ArgIter
	it.Reset(b)
	var got []string
	var v ArgValue
	for it.Next(&v) {
		got = append(got, fmt.Sprintf("%d %d %d %s %d %v", v.Key, v.Typ, v.Num, v.Text, v.ID, v.Ints))
		v = ArgValue{}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("decoded\n%q\nwant\n%q", got, want)
	}
	// Cut anywhere, the bytes decode to a prefix of the args and never
	// read out of bounds.
	for n := range len(b) {
		it.Reset(b[:n])
		k := 0
		for it.Next(&v) {
			k++
		}
		if k > len(want) {
			t.Fatalf("%d bytes decoded to %d args", n, k)
		}
	}
}
