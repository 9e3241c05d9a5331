package bytesize

import "testing"

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		ok   bool
	}{
		{"3MiB", 3 << 20, true}, {"500MB", 500e6, true}, {"1.5GiB", 3 << 29, true},
		{"1024", 1024, true}, {"2G", 2 << 30, true}, {"-1", 0, false}, {"lots", 0, false}, {"", 0, false},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseParse(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
