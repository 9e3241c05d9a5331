package converter

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// collected is a deep copy of everything Convert emitted.
type collected struct {
	batches      int
	resource     []span.Attr
	stepResource []span.Attr // of the step roots' batches
	spans        []span.Span
	// traceOfBatch: every batch held one trace
	mixedBatch bool
}

func copyAttrs(a []span.Attr) []span.Attr {
	out := make([]span.Attr, len(a))
	for i, x := range a {
		out[i] = x
		out[i].Value.Strs = slices.Clone(x.Value.Strs)
		out[i].Value.Ints = slices.Clone(x.Value.Ints)
	}
	return out
}

func (c *collected) emit(b *span.Batch) error {
	c.batches++
	// The file's resource; a step root's batch has the shared one.
	if c.resource == nil && (b.Spans[0].Parent != (span.SpanID{}) || b.Spans[0].Name == "vllm.profile") {
		c.resource = copyAttrs(b.Resource.Attrs)
	}
	if c.stepResource == nil && b.Spans[0].Parent == (span.SpanID{}) && b.Spans[0].Name != "vllm.profile" {
		c.stepResource = copyAttrs(b.Resource.Attrs)
	}
	for i, s := range b.Spans {
		if s.TraceID != b.Spans[0].TraceID {
			c.mixedBatch = true
		}
		s.Attrs = copyAttrs(s.Attrs)
		evs := make([]span.Event, len(s.Events))
		for j, e := range s.Events {
			evs[j] = e
			evs[j].Attrs = copyAttrs(e.Attrs)
		}
		s.Events = evs
		ls := make([]span.Link, len(s.Links))
		for j, l := range s.Links {
			ls[j] = l
			ls[j].Attrs = copyAttrs(l.Attrs)
		}
		s.Links = ls
		_ = i
		c.spans = append(c.spans, s)
	}
	return nil
}

func convertBytes(t testing.TB, data []byte, opts Options) (*collected, Stats, error) {
	t.Helper()
	c := &collected{}
	st, err := Convert(context.Background(), bytes.NewReader(data), opts, c.emit)
	if err == nil {
		checkBooks(t, st)
	}
	return c, st, err
}

// checkBooks fails t when a successful conversion's books do not balance:
// every test that converts a file checks the invariant.
func checkBooks(t testing.TB, st Stats) {
	t.Helper()
	if err := st.CheckBooks(); err != nil {
		t.Errorf("%v\n%s", err, st.BooksLine())
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// plainJSON returns the decompressed bytes of a .gz file, or data itself.
func plainJSON(t testing.TB, data []byte) []byte {
	t.Helper()
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.Grow(int(binary.LittleEndian.Uint32(data[len(data)-4:]))) // gzip ISIZE
	if _, err := io.Copy(&out, zr); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func attrValue(v span.Value) string {
	switch v.Type {
	case span.TypeString:
		return fmt.Sprintf("%q", v.Str)
	case span.TypeInt:
		return fmt.Sprint(v.Num)
	case span.TypeDouble:
		return fmt.Sprint(v.AsFloat())
	case span.TypeBool:
		return fmt.Sprint(v.AsBool())
	case span.TypeStringSlice:
		return fmt.Sprintf("%q", v.Strs)
	case span.TypeIntSlice:
		return fmt.Sprint(v.Ints)
	}
	return "<empty>"
}

func dumpAttrs(w *strings.Builder, indent string, attrs []span.Attr) {
	a := slices.Clone(attrs)
	sort.SliceStable(a, func(i, j int) bool { return a[i].Key < a[j].Key })
	for _, x := range a {
		fmt.Fprintf(w, "%s%s = %s\n", indent, x.Key, attrValue(x.Value))
	}
}

// dump is a stable text form of a conversion, for golden files.
func (c *collected) dump() string {
	var w strings.Builder
	w.WriteString("resource:\n")
	dumpAttrs(&w, "  ", c.resource)
	if c.stepResource != nil {
		w.WriteString("step root resource:\n")
		dumpAttrs(&w, "  ", c.stepResource)
	}
	for _, s := range c.spans {
		fmt.Fprintf(&w, "span %s trace=%s id=%s parent=%s\n", s.Name, s.TraceID, s.SpanID, s.Parent)
		fmt.Fprintf(&w, "  time %d .. %d (%d ns)\n", s.Start, s.End, s.End-s.Start)
		dumpAttrs(&w, "    ", s.Attrs)
		for _, e := range s.Events {
			fmt.Fprintf(&w, "  event %s at %d\n", e.Name, e.Time)
			dumpAttrs(&w, "    ", e.Attrs)
		}
		for _, l := range s.Links {
			fmt.Fprintf(&w, "  link trace=%s span=%s\n", l.TraceID, l.SpanID)
			dumpAttrs(&w, "    ", l.Attrs)
		}
	}
	return w.String()
}

func lookupStr(attrs []span.Attr, k string) (string, bool) {
	v, ok := span.Lookup(attrs, k)
	return v.Str, ok && v.Type == span.TypeString
}

func lookupInt(attrs []span.Attr, k string) (int64, bool) {
	v, ok := span.Lookup(attrs, k)
	return v.Num, ok && v.Type == span.TypeInt
}

// checkTrees verifies that every trace has exactly one root, that every
// parent exists in the same trace (testkit.CheckTrees) and that no span
// ends before it starts.
func checkTrees(t testing.TB, spans []span.Span) {
	t.Helper()
	refs := make([]testkit.SpanRef, len(spans))
	for i, s := range spans {
		if s.End < s.Start {
			t.Fatalf("span %s ends before it starts", s.Name)
		}
		refs[i] = testkit.SpanRef{Trace: s.TraceID, ID: s.SpanID, Parent: s.Parent, Name: s.Name}
	}
	testkit.CheckTrees(t, refs)
}

func sprint(v any) string { return fmt.Sprint(v) }
