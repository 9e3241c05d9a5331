package otlpproto

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Wire tags (field number << 3 | wire type) of the OTLP fields we write. All
// field numbers are below 16, so every tag is one byte.
const (
	tagBytes1    = 1<<3 | 2 // field 1, length-delimited
	tagBytes2    = 2<<3 | 2
	tagBytes3    = 3<<3 | 2
	tagBytes4    = 4<<3 | 2
	tagBytes5    = 5<<3 | 2
	tagBytes9    = 9<<3 | 2
	tagBytes11   = 11<<3 | 2
	tagBytes13   = 13<<3 | 2
	tagBytes15   = 15<<3 | 2
	tagVarint2   = 2<<3 | 0
	tagVarint3   = 3<<3 | 0
	tagVarint6   = 6<<3 | 0
	tagFixed64x1 = 1<<3 | 1
	tagFixed64x4 = 4<<3 | 1
	tagFixed64x7 = 7<<3 | 1
	tagFixed64x8 = 8<<3 | 1
)

// lp is the size of a length-delimited payload of n bytes, prefix included
// (tag not included).
func lp(n int) int { return protowire.SizeVarint(uint64(n)) + n }

func appendLP(dst []byte, tag byte, n int) []byte {
	dst = append(dst, tag)
	return protowire.AppendVarint(dst, uint64(n))
}

func appendString(dst []byte, tag byte, s string) []byte {
	dst = appendLP(dst, tag, len(s))
	return append(dst, s...)
}

// valueSize is the size of the AnyValue message body for v.
func valueSize(v *span.Value) int {
	switch v.Type {
	case span.TypeString:
		return 1 + lp(len(v.Str))
	case span.TypeInt:
		return 1 + protowire.SizeVarint(uint64(v.Num))
	case span.TypeDouble:
		return 1 + 8
	case span.TypeBool:
		return 2
	case span.TypeStringSlice:
		return 1 + lp(stringsArraySize(v.Strs))
	case span.TypeIntSlice:
		return 1 + lp(intsArraySize(v.Ints))
	}
	return 0
}

func stringsArraySize(ss []string) int {
	n := 0
	for _, s := range ss {
		n += 1 + lp(1+lp(len(s)))
	}
	return n
}

func intsArraySize(is []int64) int {
	n := 0
	for _, x := range is {
		n += 1 + lp(1+protowire.SizeVarint(uint64(x)))
	}
	return n
}

func appendValue(dst []byte, v *span.Value) []byte {
	switch v.Type {
	case span.TypeString:
		dst = appendString(dst, tagBytes1, v.Str)
	case span.TypeInt:
		dst = append(dst, tagVarint3)
		dst = protowire.AppendVarint(dst, uint64(v.Num))
	case span.TypeDouble:
		dst = append(dst, tagFixed64x4)
		dst = protowire.AppendFixed64(dst, uint64(v.Num))
	case span.TypeBool:
		b := byte(0)
		if v.Num != 0 {
			b = 1
		}
		dst = append(dst, tagVarint2, b)
	case span.TypeStringSlice:
		dst = appendLP(dst, tagBytes5, stringsArraySize(v.Strs))
		for _, s := range v.Strs {
			dst = appendLP(dst, tagBytes1, 1+lp(len(s)))
			dst = appendString(dst, tagBytes1, s)
		}
	case span.TypeIntSlice:
		dst = appendLP(dst, tagBytes5, intsArraySize(v.Ints))
		for _, x := range v.Ints {
			dst = appendLP(dst, tagBytes1, 1+protowire.SizeVarint(uint64(x)))
			dst = append(dst, tagVarint3)
			dst = protowire.AppendVarint(dst, uint64(x))
		}
	}
	return dst
}

// kvSize is the size of the KeyValue message body for a.
func kvSize(a *span.Attr) int {
	n := 1 + lp(valueSize(&a.Value))
	if a.Key != "" {
		n += 1 + lp(len(a.Key))
	}
	return n
}

func attrsSize(attrs []span.Attr) int {
	n := 0
	for i := range attrs {
		n += 1 + lp(kvSize(&attrs[i]))
	}
	return n
}

// appendAttrs writes attrs as repeated KeyValue field tag.
func appendAttrs(dst []byte, tag byte, attrs []span.Attr) []byte {
	for i := range attrs {
		a := &attrs[i]
		vs := valueSize(&a.Value)
		kvs := 1 + lp(vs)
		if a.Key != "" {
			kvs += 1 + lp(len(a.Key))
		}
		dst = appendLP(dst, tag, kvs)
		if a.Key != "" {
			dst = appendString(dst, tagBytes1, a.Key)
		}
		dst = appendLP(dst, tagBytes2, vs)
		dst = appendValue(dst, &a.Value)
	}
	return dst
}

func eventSize(e *span.Event) int {
	n := 0
	if e.Time != 0 {
		n += 1 + 8
	}
	if e.Name != "" {
		n += 1 + lp(len(e.Name))
	}
	return n + attrsSize(e.Attrs)
}

func linkSize(l *span.Link) int {
	return 1 + lp(16) + 1 + lp(8) + attrsSize(l.Attrs)
}

func statusSize(s *span.Span) int {
	n := 0
	if s.StatusMessage != "" {
		n += 1 + lp(len(s.StatusMessage))
	}
	if s.Status != 0 {
		n += 1 + protowire.SizeVarint(uint64(s.Status))
	}
	return n
}

// SpanSize returns the size of the OTLP Span message body for s (without
// the tag and length prefix that embed it in ScopeSpans).
func SpanSize(s *span.Span) int {
	n := 1 + lp(16) + 1 + lp(8)
	if !s.Parent.IsZero() {
		n += 1 + lp(8)
	}
	if s.Name != "" {
		n += 1 + lp(len(s.Name))
	}
	if s.Kind != 0 {
		n += 1 + protowire.SizeVarint(uint64(s.Kind))
	}
	if s.Start != 0 {
		n += 1 + 8
	}
	if s.End != 0 {
		n += 1 + 8
	}
	n += attrsSize(s.Attrs)
	for i := range s.Events {
		n += 1 + lp(eventSize(&s.Events[i]))
	}
	for i := range s.Links {
		n += 1 + lp(linkSize(&s.Links[i]))
	}
	if s.Status != 0 || s.StatusMessage != "" {
		n += 1 + lp(statusSize(s))
	}
	return n
}

// AppendSpan appends the OTLP Span message body for s (no tag or length
// prefix); it writes exactly SpanSize(s) bytes.
func AppendSpan(dst []byte, s *span.Span) []byte {
	dst = appendLP(dst, tagBytes1, 16)
	dst = append(dst, s.TraceID[:]...)
	dst = appendLP(dst, tagBytes2, 8)
	dst = append(dst, s.SpanID[:]...)
	if !s.Parent.IsZero() {
		dst = appendLP(dst, tagBytes4, 8)
		dst = append(dst, s.Parent[:]...)
	}
	if s.Name != "" {
		dst = appendString(dst, tagBytes5, s.Name)
	}
	if s.Kind != 0 {
		dst = append(dst, tagVarint6)
		dst = protowire.AppendVarint(dst, uint64(s.Kind))
	}
	if s.Start != 0 {
		dst = append(dst, tagFixed64x7)
		dst = protowire.AppendFixed64(dst, uint64(s.Start))
	}
	if s.End != 0 {
		dst = append(dst, tagFixed64x8)
		dst = protowire.AppendFixed64(dst, uint64(s.End))
	}
	dst = appendAttrs(dst, tagBytes9, s.Attrs)
	for i := range s.Events {
		e := &s.Events[i]
		dst = appendLP(dst, tagBytes11, eventSize(e))
		if e.Time != 0 {
			dst = append(dst, tagFixed64x1)
			dst = protowire.AppendFixed64(dst, uint64(e.Time))
		}
		if e.Name != "" {
			dst = appendString(dst, tagBytes2, e.Name)
		}
		dst = appendAttrs(dst, tagBytes3, e.Attrs)
	}
	for i := range s.Links {
		l := &s.Links[i]
		dst = appendLP(dst, tagBytes13, linkSize(l))
		dst = appendLP(dst, tagBytes1, 16)
		dst = append(dst, l.TraceID[:]...)
		dst = appendLP(dst, tagBytes2, 8)
		dst = append(dst, l.SpanID[:]...)
		dst = appendAttrs(dst, tagBytes4, l.Attrs)
	}
	if s.Status != 0 || s.StatusMessage != "" {
		dst = appendLP(dst, tagBytes15, statusSize(s))
		if s.StatusMessage != "" {
			dst = appendString(dst, tagBytes2, s.StatusMessage)
		}
		if s.Status != 0 {
			dst = append(dst, tagVarint3)
			dst = protowire.AppendVarint(dst, uint64(s.Status))
		}
	}
	return dst
}

// ResourceSize returns the size of the OTLP Resource message body for r.
func ResourceSize(r *span.Resource) int { return attrsSize(r.Attrs) }

// AppendResource appends the OTLP Resource message body for r.
func AppendResource(dst []byte, r *span.Resource) []byte {
	return appendAttrs(dst, tagBytes1, r.Attrs)
}

// ScopeSize returns the size of the OTLP InstrumentationScope message body.
func ScopeSize(sc span.Scope) int {
	n := 0
	if sc.Name != "" {
		n += 1 + lp(len(sc.Name))
	}
	if sc.Version != "" {
		n += 1 + lp(len(sc.Version))
	}
	return n
}

// AppendScope appends the OTLP InstrumentationScope message body for sc.
func AppendScope(dst []byte, sc span.Scope) []byte {
	if sc.Name != "" {
		dst = appendString(dst, tagBytes1, sc.Name)
	}
	if sc.Version != "" {
		dst = appendString(dst, tagBytes2, sc.Version)
	}
	return dst
}

func scopeSpansSize(b *span.Batch) int {
	n := 1 + lp(ScopeSize(b.Scope))
	for i := range b.Spans {
		n += 1 + lp(SpanSize(&b.Spans[i]))
	}
	return n
}

// ProtoSize returns len(AppendProto(nil, b)).
func ProtoSize(b *span.Batch) int {
	n := 1 + lp(scopeSpansSize(b))
	if b.Resource != nil {
		n += 1 + lp(ResourceSize(b.Resource))
	}
	return n
}

// AppendProto appends b encoded as one OTLP ResourceSpans message (the
// message body, without a tag or length prefix) holding one ScopeSpans. The
// result equals proto.Marshal(ToProto(b)). A nil Resource is omitted; the
// scope is always written, even when empty.
func AppendProto(dst []byte, b *span.Batch) []byte {
	if b.Resource != nil {
		dst = appendLP(dst, tagBytes1, ResourceSize(b.Resource))
		dst = AppendResource(dst, b.Resource)
	}
	dst = appendLP(dst, tagBytes2, scopeSpansSize(b))
	dst = appendLP(dst, tagBytes1, ScopeSize(b.Scope))
	dst = AppendScope(dst, b.Scope)
	for i := range b.Spans {
		s := &b.Spans[i]
		dst = appendLP(dst, tagBytes2, SpanSize(s))
		dst = AppendSpan(dst, s)
	}
	return dst
}
