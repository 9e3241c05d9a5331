package jsonscan

import "testing"

func TestParseMicrosToNs(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1712195495505583.047", 1712195495505583047, true},
		{"1694039968955744", 1694039968955744000, true},
		{"4932251280127.791", 4932251280127791, true},
		{"12.5", 12500, true},
		{"12.05", 12050, true},
		{"0.001", 1, true},
		{"0.0019", 1, true},
		{"-3.25", -3250, true},
		{"0", 0, true},
		{"1e3", 1000000, true},
		{"9.5e0", 9500, true},
		{"", 0, false},
		{"-", 0, false},
		{".", 0, false},
		{"inf", 0, false},
		{"nan", 0, false},
		{"N/A", 0, false},
		{"1.2.3", 0, false},
		{"12a", 0, false},
		{"99999999999999999999", 0, false},
		{"1e400", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseMicrosToNs([]byte(tc.in))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("ParseMicrosToNs(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-17", -17, true}, {"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true}, {"9223372036854775808", 0, false},
		{"1.0", 0, false}, {"1e3", 0, false}, {"-", 0, false}, {"", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseInt([]byte(tc.in))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("ParseInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
