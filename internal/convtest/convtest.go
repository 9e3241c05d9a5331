// Package convtest gives tests the span IDs a direct conversion of a trace
// file yields: what the daemon, given the same file, must deliver (the
// converter's IDs are deterministic), and checks a conversion's books
// (every event accounted for). It is used only by tests.
package convtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/tracefile"
)

// DaemonIdentity is what the daemon and convert, with their default
// settings (service.name vllm, no resource attributes), seed every
// file's ids with besides its content (converter.Options.IdentityAttrs).
func DaemonIdentity() []span.Attr { return []span.Attr{span.String("service.name", "vllm")} }

// SpanIDs converts the trace at path with the default options and the
// daemon's default identity and returns
// the IDs of every span it yields, failing t on any error.
func SpanIDs(t testing.TB, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids := map[string]bool{}
	opts := converter.DefaultOptions()
	opts.IdentityAttrs = DaemonIdentity()
	// What the file name says (ranks) decides which step traces a file's
	// steps join, as in the daemon.
	if info, ok := tracefile.Parse(filepath.Base(path)); ok {
		opts.Resource = info.ResourceAttrs()
	}
	st, err := converter.Convert(context.Background(), f, opts, func(b *span.Batch) error {
		for i := range b.Spans {
			ids[b.Spans[i].SpanID.String()] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("converting %s: %v", path, err)
	}
	CheckBooks(t, path, st)
	return ids
}

// CheckBooks fails t when the books of a successful conversion of path do
// not balance (converter.Stats.CheckBooks): every test that converts a
// file checks that no event was lost.
func CheckBooks(t testing.TB, path string, st converter.Stats) {
	t.Helper()
	if err := st.CheckBooks(); err != nil {
		t.Errorf("%s: %v\n%s", path, err, st.BooksLine())
	}
}
