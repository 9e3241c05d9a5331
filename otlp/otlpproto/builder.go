package otlpproto

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Header is the part of a ResourceSpans entry shared by its spans: the
// encoded Resource and InstrumentationScope message bodies and both schema
// URLs. A nil Resource means "no resource field"; the scope is always
// written.
type Header struct {
	Resource       []byte
	HasResource    bool
	Scope          []byte
	ResourceSchema string // ResourceSpans.schema_url
	ScopeSchema    string // ScopeSpans.schema_url
}

// SetBatch fills h (reusing its buffers) for a span.Batch's resource and
// scope.
func (h *Header) SetBatch(r *span.Resource, sc span.Scope) {
	h.HasResource = r != nil
	h.Resource = h.Resource[:0]
	if r != nil {
		h.Resource = AppendResource(h.Resource, r)
	}
	h.Scope = AppendScope(h.Scope[:0], sc)
	h.ResourceSchema, h.ScopeSchema = "", ""
}

// SetProto fills h from forwarded protobuf messages; either may be nil.
func (h *Header) SetProto(r *resourcepb.Resource, sc *commonpb.InstrumentationScope, resourceSchema, scopeSchema string) error {
	var err error
	h.HasResource = r != nil
	h.Resource = h.Resource[:0]
	if r != nil {
		if h.Resource, err = (proto.MarshalOptions{Deterministic: true}).MarshalAppend(h.Resource, r); err != nil {
			return err
		}
	}
	h.Scope = h.Scope[:0]
	if sc != nil {
		if h.Scope, err = (proto.MarshalOptions{Deterministic: true}).MarshalAppend(h.Scope, sc); err != nil {
			return err
		}
	}
	h.ResourceSchema, h.ScopeSchema = resourceSchema, scopeSchema
	return nil
}

// scopeSpansSize is the ScopeSpans body size holding spanBytes of span
// entries (tags and prefixes included).
func (h *Header) scopeSpansSize(spanBytes int) int {
	n := 1 + lp(len(h.Scope)) + spanBytes
	if h.ScopeSchema != "" {
		n += 1 + lp(len(h.ScopeSchema))
	}
	return n
}

func (h *Header) resourceSpansSize(spanBytes int) int {
	n := 1 + lp(h.scopeSpansSize(spanBytes))
	if h.HasResource {
		n += 1 + lp(len(h.Resource))
	}
	if h.ResourceSchema != "" {
		n += 1 + lp(len(h.ResourceSchema))
	}
	return n
}

// Builder packs spans into the body of an OTLP ExportTraceServiceRequest
// (a sequence of ResourceSpans entries, field 1). Spans sharing a Header
// are grouped into one ResourceSpans holding one ScopeSpans. The zero value
// is ready to use; Reset keeps its buffers.
type Builder struct {
	body  []byte // complete ResourceSpans entries
	seg   []byte // span entries of the open segment
	hdr   Header // header of the open segment
	open  bool
	spans int
}

// Len returns the encoded size the request would have if taken now.
func (b *Builder) Len() int { return b.SizeWith(0) }

// Spans returns the number of spans added since the last Reset.
func (b *Builder) Spans() int { return b.spans }

// SizeWith returns the request size after adding a span entry of entryLen
// bytes (tag and length prefix included, see EntrySize) to the open segment.
func (b *Builder) SizeWith(entryLen int) int {
	if !b.open {
		return len(b.body)
	}
	return len(b.body) + 1 + lp(b.hdr.resourceSpansSize(len(b.seg)+entryLen))
}

// EntrySize is the size of a span entry whose Span body is n bytes.
func EntrySize(n int) int { return 1 + lp(n) }

// Open starts a new segment with a copy of h, closing the open one.
func (b *Builder) Open(h *Header) {
	b.closeSeg()
	b.hdr.HasResource = h.HasResource
	b.hdr.Resource = append(b.hdr.Resource[:0], h.Resource...)
	b.hdr.Scope = append(b.hdr.Scope[:0], h.Scope...)
	b.hdr.ResourceSchema, b.hdr.ScopeSchema = h.ResourceSchema, h.ScopeSchema
	b.open = true
}

// AddSpan appends s (whose body size is n = SpanSize(s)) to the open segment.
// It panics if no segment is open.
func (b *Builder) AddSpan(s *span.Span, n int) {
	if !b.open {
		panic("otlpproto: AddSpan without Open")
	}
	b.seg = appendLP(b.seg, tagBytes2, n)
	b.seg = AppendSpan(b.seg, s)
	b.spans++
}

// AddEncodedSpan appends an already encoded Span message body.
func (b *Builder) AddEncodedSpan(body []byte) {
	if !b.open {
		panic("otlpproto: AddEncodedSpan without Open")
	}
	b.seg = appendLP(b.seg, tagBytes2, len(body))
	b.seg = append(b.seg, body...)
	b.spans++
}

func (b *Builder) closeSeg() {
	if !b.open {
		return
	}
	b.open = false
	if len(b.seg) == 0 {
		return
	}
	h := &b.hdr
	b.body = appendLP(b.body, tagBytes1, h.resourceSpansSize(len(b.seg)))
	if h.HasResource {
		b.body = appendLP(b.body, tagBytes1, len(h.Resource))
		b.body = append(b.body, h.Resource...)
	}
	b.body = appendLP(b.body, tagBytes2, h.scopeSpansSize(len(b.seg)))
	b.body = appendLP(b.body, tagBytes1, len(h.Scope))
	b.body = append(b.body, h.Scope...)
	b.body = append(b.body, b.seg...)
	if h.ScopeSchema != "" {
		b.body = appendString(b.body, tagBytes3, h.ScopeSchema)
	}
	if h.ResourceSchema != "" {
		b.body = appendString(b.body, tagBytes3, h.ResourceSchema)
	}
	b.seg = b.seg[:0]
}

// Take closes the open segment and returns the request body with the
// number of spans it holds. b keeps spare (emptied) as its next body
// buffer, so the returned slice belongs to the caller. When reopen is true
// the closed segment's header stays open for further spans.
func (b *Builder) Take(spare []byte, reopen bool) ([]byte, int) {
	wasOpen := b.open
	b.closeSeg()
	body, n := b.body, b.spans
	b.body = spare[:0]
	b.spans = 0
	b.open = wasOpen && reopen
	return body, n
}

// Reset drops everything added.
func (b *Builder) Reset() {
	b.body, b.seg = b.body[:0], b.seg[:0]
	b.open = false
	b.spans = 0
}

// SplitRequest calls fn with each ResourceSpans body in an
// ExportTraceServiceRequest body (as built by Builder). It returns an error
// for malformed input.
func SplitRequest(body []byte, fn func(rs []byte)) error { return ForEachField(body, 1, fn) }

// ForEachField calls fn with the value of each length-delimited field
// numbered field in the protobuf message body, in wire order, without
// decoding anything else. It stops at and returns the first error for
// malformed input, after fn has seen the fields before it.
func ForEachField(body []byte, field protowire.Number, fn func([]byte)) error {
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			return protowire.ParseError(n)
		}
		body = body[n:]
		if num == field && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(body)
			if m < 0 {
				return protowire.ParseError(m)
			}
			fn(v)
			body = body[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, body)
		if m < 0 {
			return protowire.ParseError(m)
		}
		body = body[m:]
	}
	return nil
}
