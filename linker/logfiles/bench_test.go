package logfiles

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/linker"
)

// BenchmarkReadOnce reads 40 copies of the H100 log (about 5 MB) into a
// timeline, plain and wrapped in CRI: the cost of the wrapper and of the
// file machinery over vllmlog's parsers.
func BenchmarkReadOnce(b *testing.B) {
	for _, tc := range []struct{ name, src string }{{"text", h100Text}, {"cri", h100CRI}} {
		b.Run(tc.name, func(b *testing.B) {
			one, err := os.ReadFile(tc.src)
			if err != nil {
				b.Fatal(err)
			}
			path := filepath.Join(b.TempDir(), "vllm.log")
			if err := os.WriteFile(path, []byte(strings.Repeat(string(one), 40)), 0o644); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(40 * len(one)))
			b.ReportAllocs()
			for b.Loop() {
				s, err := New(testConfig(path), linker.NewTimeline(linker.TimelineOptions{}), nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.ReadOnce(context.Background()); err != nil {
					b.Fatal(err)
				}
				if s.Stats().Records == 0 {
					b.Fatal("no records")
				}
			}
		})
	}
}
