package span

import "testing"

func TestIDSourceDeterministicAndDistinct(t *testing.T) {
	a := NewIDSource([]byte("file-a"))
	b := NewIDSource([]byte("file-a"))
	c := NewIDSource([]byte("file-b"))
	if a.SpanID(7) != b.SpanID(7) || a.TraceID(3) != b.TraceID(3) {
		t.Fatal("same seed and key must give the same IDs")
	}
	if a.SpanID(7) == c.SpanID(7) || a.TraceID(3) == c.TraceID(3) {
		t.Fatal("different seeds should give different IDs")
	}
	seen := make(map[SpanID]bool)
	for k := uint64(0); k < 200000; k++ {
		id := a.SpanID(k)
		if id.IsZero() {
			t.Fatalf("zero span id for key %d", k)
		}
		if seen[id] {
			t.Fatalf("span id collision at key %d", k)
		}
		seen[id] = true
	}
	if a.TraceID(0).IsZero() {
		t.Fatal("zero trace id")
	}
}

func TestAttrConstructors(t *testing.T) {
	tests := []struct {
		a    Attr
		typ  ValueType
		want any
	}{
		{String("k", "v"), TypeString, "v"},
		{Int("k", -3), TypeInt, int64(-3)},
		{Float("k", 1.5), TypeDouble, 1.5},
		{Bool("k", true), TypeBool, true},
	}
	for _, tc := range tests {
		if tc.a.Value.Type != tc.typ {
			t.Errorf("%v: type %d, want %d", tc.a, tc.a.Value.Type, tc.typ)
		}
		var got any
		switch tc.typ {
		case TypeString:
			got = tc.a.Value.Str
		case TypeInt:
			got = tc.a.Value.Num
		case TypeDouble:
			got = tc.a.Value.AsFloat()
		case TypeBool:
			got = tc.a.Value.AsBool()
		}
		if got != tc.want {
			t.Errorf("got %v want %v", got, tc.want)
		}
	}
	if v, ok := Lookup([]Attr{Int("a", 1), String("b", "x")}, "b"); !ok || v.Str != "x" {
		t.Fatal("Lookup failed")
	}
}

func TestAppendIdentity(t *testing.T) {
	a := []Attr{String("service.name", "vllm"), Int("vllm.rank", 1), Strings("x", []string{"a", "b"})}
	b := []Attr{Strings("x", []string{"a", "b"}), Int("vllm.rank", 1), String("service.name", "vllm")}
	if string(AppendIdentity(nil, a)) != string(AppendIdentity(nil, b)) {
		t.Fatal("order of attributes changed the identity")
	}
	for _, other := range [][]Attr{
		{String("service.name", "vllm2"), Int("vllm.rank", 1), Strings("x", []string{"a", "b"})},
		{String("service.name", "vllm"), String("vllm.rank", "1"), Strings("x", []string{"a", "b"})},
		{String("service.name", "vllm"), Int("vllm.rank", 1), Strings("x", []string{"ab"})},
		{String("service.name", "vllm"), Int("vllm.rank", 1)},
		{String("service.name", "vllmvllm.rank"), Strings("x", []string{"a", "b"})},
	} {
		if string(AppendIdentity(nil, a)) == string(AppendIdentity(nil, other)) {
			t.Errorf("%v and %v have the same identity", a, other)
		}
	}
	// The first of duplicate keys counts, as Lookup finds it.
	dup := append([]Attr{String("service.name", "vllm")}, String("service.name", "other"))
	if string(AppendIdentity(nil, dup)) != string(AppendIdentity(nil, dup[:1])) {
		t.Error("a later duplicate key changed the identity")
	}
}
