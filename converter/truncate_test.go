package converter

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func TestTruncateUTF8(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"héllo", 2, "h"}, // é is two bytes: do not split it
		{"héllo", 3, "hé"},
		{"日本語", 4, "日"},
		{"日本語", 6, "日本"},
		{"", 0, ""},
	}
	for _, tc := range tests {
		got := truncateUTF8(tc.in, tc.limit)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("truncateUTF8(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}

// TestHugeStringsAreCutAndCounted: one 1 MB name and one 1 MB arg must not
// produce a span that no OTLP receiver accepts.
func TestHugeStringsAreCutAndCounted(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	trace := `{"baseTimeNanoseconds": 1700000000000000000, "traceEvents": [
{"ph": "X", "cat": "cpu_op", "name": "` + huge + `", "pid": 1, "tid": 1, "ts": 10.000, "dur": 5.000, "args": {"note": "` + huge + `"}}
]}`
	opts := DefaultOptions()
	var names, values []int
	st, err := Convert(context.Background(), bytes.NewReader([]byte(trace)), opts, func(b *span.Batch) error {
		for _, s := range b.Spans {
			names = append(names, len(s.Name))
			for _, a := range s.Attrs {
				if a.Value.Type == span.TypeString {
					values = append(values, len(a.Value.Str))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkBooks(t, st)
	if st.StringsTruncated != 2 {
		t.Fatalf("StringsTruncated = %d, want 2", st.StringsTruncated)
	}
	for _, n := range append(names, values...) {
		if n > opts.MaxStringBytes {
			t.Fatalf("a string of %d bytes survived the %d-byte limit", n, opts.MaxStringBytes)
		}
	}
	opts.MaxStringBytes = 0
	st, err = Convert(context.Background(), bytes.NewReader([]byte(trace)), opts, func(*span.Batch) error { return nil })
	if err != nil || st.StringsTruncated != 0 {
		t.Fatalf("no limit: %v, %d truncated", err, st.StringsTruncated)
	}
	checkBooks(t, st)
}
