package profdiff

import "testing"

func TestPctText(t *testing.T) {
	tests := []struct {
		v, base int64
		want    string
	}{
		{-903, 1000, "-90.3%"},
		{50, 1000, "+5.0%"},
		{0, 1000, "+0.0%"},
		{10_100, 0, "new"}, // a figure that was zero before (kernel wait with CUDA graphs)
		{0, 0, "+0.0%"},
	}
	for _, tt := range tests {
		if got := pctText(tt.v, tt.base); got != tt.want {
			t.Errorf("pctText(%d, %d) = %q, want %q", tt.v, tt.base, got, tt.want)
		}
	}
}
