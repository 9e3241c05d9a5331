package otlpjson

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/go-json-experiment/json"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// ErrSyntax is matched (errors.Is) by every error about malformed input.
var ErrSyntax = errors.New("otlpjson: malformed OTLP/JSON")

// LineError says which line of a JSON-lines input failed.
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("otlpjson: line %d: %v", e.Line, e.Err) }

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

// syntaxError wraps a decoding failure so that it matches ErrSyntax.
type syntaxError struct{ err error }

func (e syntaxError) Error() string   { return "otlpjson: malformed OTLP/JSON: " + e.err.Error() }
func (e syntaxError) Unwrap() []error { return []error{ErrSyntax, e.err} }

// Unmarshal decodes one ExportTraceServiceRequest JSON object.
func Unmarshal(data []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	var jr jRequest
	if err := json.Unmarshal(data, &jr); err != nil {
		return nil, syntaxError{err}
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	for i := range jr.ResourceSpans {
		req.ResourceSpans = append(req.ResourceSpans, jr.ResourceSpans[i].proto())
	}
	return req, nil
}

// ReadJSONLines decodes r as JSON lines, one ExportTraceServiceRequest per
// line, calling fn for each in order. Blank lines are skipped; a line may be
// of any length. It stops at the first error from decoding (a *LineError
// wrapping ErrSyntax) or from fn (returned as is), and returns nil at EOF.
func ReadJSONLines(r io.Reader, fn func(*coltracepb.ExportTraceServiceRequest) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var line []byte
	for n := 1; ; n++ {
		line = line[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			line = append(line, chunk...)
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("otlpjson: reading line %d: %w", n, err)
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			req, derr := Unmarshal(t)
			if derr != nil {
				return &LineError{Line: n, Err: derr}
			}
			if ferr := fn(req); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return nil
		}
	}
}

// JSON mirror types. Field names follow the OTLP/JSON mapping.

type jRequest struct {
	ResourceSpans []jResourceSpans `json:"resourceSpans"`
}

type jResourceSpans struct {
	Resource   *jResource    `json:"resource"`
	ScopeSpans []jScopeSpans `json:"scopeSpans"`
	SchemaURL  string        `json:"schemaUrl"`
}

func (j *jResourceSpans) proto() *tracepb.ResourceSpans {
	rs := &tracepb.ResourceSpans{SchemaUrl: j.SchemaURL}
	if j.Resource != nil {
		rs.Resource = &resourcepb.Resource{
			Attributes:             kvsProto(j.Resource.Attributes),
			DroppedAttributesCount: j.Resource.Dropped,
		}
		for _, e := range j.Resource.EntityRefs {
			rs.Resource.EntityRefs = append(rs.Resource.EntityRefs, &commonpb.EntityRef{
				SchemaUrl: e.SchemaURL, Type: e.Type, IdKeys: e.IDKeys, DescriptionKeys: e.DescriptionKeys,
			})
		}
	}
	for i := range j.ScopeSpans {
		rs.ScopeSpans = append(rs.ScopeSpans, j.ScopeSpans[i].proto())
	}
	return rs
}

type jResource struct {
	Attributes []jKeyValue  `json:"attributes"`
	Dropped    uint32       `json:"droppedAttributesCount"`
	EntityRefs []jEntityRef `json:"entityRefs"`
}

type jEntityRef struct {
	SchemaURL       string   `json:"schemaUrl"`
	Type            string   `json:"type"`
	IDKeys          []string `json:"idKeys"`
	DescriptionKeys []string `json:"descriptionKeys"`
}

type jScopeSpans struct {
	Scope     *jScope `json:"scope"`
	Spans     []jSpan `json:"spans"`
	SchemaURL string  `json:"schemaUrl"`
}

func (j *jScopeSpans) proto() *tracepb.ScopeSpans {
	ss := &tracepb.ScopeSpans{SchemaUrl: j.SchemaURL}
	if j.Scope != nil {
		ss.Scope = &commonpb.InstrumentationScope{
			Name: j.Scope.Name, Version: j.Scope.Version,
			Attributes: kvsProto(j.Scope.Attributes), DroppedAttributesCount: j.Scope.Dropped,
		}
	}
	for i := range j.Spans {
		ss.Spans = append(ss.Spans, j.Spans[i].proto())
	}
	return ss
}

type jScope struct {
	Name       string      `json:"name"`
	Version    string      `json:"version"`
	Attributes []jKeyValue `json:"attributes"`
	Dropped    uint32      `json:"droppedAttributesCount"`
}

type jSpan struct {
	TraceID       hexID       `json:"traceId"`
	SpanID        hexID       `json:"spanId"`
	TraceState    string      `json:"traceState"`
	ParentSpanID  hexID       `json:"parentSpanId"`
	Flags         uint32      `json:"flags"`
	Name          string      `json:"name"`
	Kind          enumKind    `json:"kind"`
	Start         flexUint64  `json:"startTimeUnixNano"`
	End           flexUint64  `json:"endTimeUnixNano"`
	Attributes    []jKeyValue `json:"attributes"`
	DroppedAttrs  uint32      `json:"droppedAttributesCount"`
	Events        []jEvent    `json:"events"`
	DroppedEvents uint32      `json:"droppedEventsCount"`
	Links         []jLink     `json:"links"`
	DroppedLinks  uint32      `json:"droppedLinksCount"`
	Status        *jStatus    `json:"status"`
}

func (j *jSpan) proto() *tracepb.Span {
	s := &tracepb.Span{
		TraceId: j.TraceID, SpanId: j.SpanID, TraceState: j.TraceState, ParentSpanId: j.ParentSpanID,
		Flags: j.Flags, Name: j.Name, Kind: tracepb.Span_SpanKind(j.Kind),
		StartTimeUnixNano: uint64(j.Start), EndTimeUnixNano: uint64(j.End),
		Attributes: kvsProto(j.Attributes), DroppedAttributesCount: j.DroppedAttrs,
		DroppedEventsCount: j.DroppedEvents, DroppedLinksCount: j.DroppedLinks,
	}
	for _, e := range j.Events {
		s.Events = append(s.Events, &tracepb.Span_Event{
			TimeUnixNano: uint64(e.Time), Name: e.Name,
			Attributes: kvsProto(e.Attributes), DroppedAttributesCount: e.Dropped,
		})
	}
	for _, l := range j.Links {
		s.Links = append(s.Links, &tracepb.Span_Link{
			TraceId: l.TraceID, SpanId: l.SpanID, TraceState: l.TraceState,
			Attributes: kvsProto(l.Attributes), DroppedAttributesCount: l.Dropped, Flags: l.Flags,
		})
	}
	if j.Status != nil {
		s.Status = &tracepb.Status{Message: j.Status.Message, Code: tracepb.Status_StatusCode(j.Status.Code)}
	}
	return s
}

type jEvent struct {
	Time       flexUint64  `json:"timeUnixNano"`
	Name       string      `json:"name"`
	Attributes []jKeyValue `json:"attributes"`
	Dropped    uint32      `json:"droppedAttributesCount"`
}

type jLink struct {
	TraceID    hexID       `json:"traceId"`
	SpanID     hexID       `json:"spanId"`
	TraceState string      `json:"traceState"`
	Attributes []jKeyValue `json:"attributes"`
	Dropped    uint32      `json:"droppedAttributesCount"`
	Flags      uint32      `json:"flags"`
}

type jStatus struct {
	Message string     `json:"message"`
	Code    enumStatus `json:"code"`
}

type jKeyValue struct {
	Key         string     `json:"key"`
	Value       *jAnyValue `json:"value"`
	KeyStrindex int32      `json:"keyStrindex"`
}

type jAnyValue struct {
	StringValue         *string     `json:"stringValue"`
	BoolValue           *bool       `json:"boolValue"`
	IntValue            *flexInt64  `json:"intValue"`
	DoubleValue         *flexDouble `json:"doubleValue"`
	ArrayValue          *jArray     `json:"arrayValue"`
	KvlistValue         *jKvList    `json:"kvlistValue"`
	BytesValue          *b64        `json:"bytesValue"`
	StringValueStrindex *int32      `json:"stringValueStrindex"`
}

type jArray struct {
	Values []*jAnyValue `json:"values"`
}

type jKvList struct {
	Values []jKeyValue `json:"values"`
}

func kvsProto(kvs []jKeyValue) []*commonpb.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, len(kvs))
	for i := range kvs {
		out[i] = &commonpb.KeyValue{Key: kvs[i].Key, KeyStrindex: kvs[i].KeyStrindex}
		if kvs[i].Value != nil {
			out[i].Value = kvs[i].Value.proto()
		}
	}
	return out
}

func (j *jAnyValue) proto() *commonpb.AnyValue {
	v := &commonpb.AnyValue{}
	switch {
	case j == nil:
	case j.StringValue != nil:
		v.Value = &commonpb.AnyValue_StringValue{StringValue: *j.StringValue}
	case j.BoolValue != nil:
		v.Value = &commonpb.AnyValue_BoolValue{BoolValue: *j.BoolValue}
	case j.IntValue != nil:
		v.Value = &commonpb.AnyValue_IntValue{IntValue: int64(*j.IntValue)}
	case j.DoubleValue != nil:
		v.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: float64(*j.DoubleValue)}
	case j.ArrayValue != nil:
		a := &commonpb.ArrayValue{}
		for _, e := range j.ArrayValue.Values {
			a.Values = append(a.Values, e.proto())
		}
		v.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: a}
	case j.KvlistValue != nil:
		v.Value = &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvsProto(j.KvlistValue.Values)}}
	case j.BytesValue != nil:
		v.Value = &commonpb.AnyValue_BytesValue{BytesValue: []byte(*j.BytesValue)}
	case j.StringValueStrindex != nil:
		v.Value = &commonpb.AnyValue_StringValueStrindex{StringValueStrindex: *j.StringValueStrindex}
	}
	return v
}

// unquote returns the contents of a JSON string token, or the token itself
// for a bare number. Only strings without escapes are accepted, which is
// all that numbers and ids ever need.
func unquote(b []byte) ([]byte, bool) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		s := b[1 : len(b)-1]
		if bytes.IndexByte(s, '\\') >= 0 {
			return nil, true
		}
		return s, true
	}
	return b, false
}

// hexID is a trace or span id written as hex.
type hexID []byte

func (h *hexID) UnmarshalJSON(b []byte) error {
	s, quoted := unquote(b)
	if !quoted || s == nil {
		return fmt.Errorf("id %s: want a hex string", b)
	}
	if len(s) == 0 {
		*h = nil
		return nil
	}
	out := make([]byte, hex.DecodedLen(len(s)))
	if _, err := hex.Decode(out, s); err != nil {
		return fmt.Errorf("id %s: %w", b, err)
	}
	if len(out) != 8 && len(out) != 16 {
		return fmt.Errorf("id %s: %d bytes, want 8 or 16", b, len(out))
	}
	*h = out
	return nil
}

// flexInt64 accepts a decimal string or a JSON number.
type flexInt64 int64

func (v *flexInt64) UnmarshalJSON(b []byte) error {
	s, _ := unquote(b)
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return fmt.Errorf("int64 %s: %w", b, err)
	}
	*v = flexInt64(n)
	return nil
}

// flexUint64 accepts a decimal string or a JSON number.
type flexUint64 uint64

func (v *flexUint64) UnmarshalJSON(b []byte) error {
	s, _ := unquote(b)
	n, err := strconv.ParseUint(string(s), 10, 64)
	if err != nil {
		return fmt.Errorf("uint64 %s: %w", b, err)
	}
	*v = flexUint64(n)
	return nil
}

// flexDouble accepts a JSON number or "NaN", "Infinity", "-Infinity" (or a
// number in a string).
type flexDouble float64

func (v *flexDouble) UnmarshalJSON(b []byte) error {
	s, _ := unquote(b)
	switch string(s) {
	case "NaN":
		*v = flexDouble(math.NaN())
		return nil
	case "Infinity":
		*v = flexDouble(math.Inf(1))
		return nil
	case "-Infinity":
		*v = flexDouble(math.Inf(-1))
		return nil
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return fmt.Errorf("double %s: %w", b, err)
	}
	*v = flexDouble(f)
	return nil
}

// b64 is a bytes value in standard base64 (URL-safe base64 also accepted).
type b64 []byte

func (v *b64) UnmarshalJSON(b []byte) error {
	s, quoted := unquote(b)
	if !quoted || s == nil {
		return fmt.Errorf("bytes %s: want a base64 string", b)
	}
	out, err := base64.StdEncoding.AppendDecode(nil, s)
	if err != nil {
		if out, err = base64.URLEncoding.AppendDecode(nil, s); err != nil {
			return fmt.Errorf("bytes %s: %w", b, err)
		}
	}
	if out == nil {
		out = []byte{}
	}
	*v = out
	return nil
}

// enumKind accepts an integer or a SpanKind name.
type enumKind int32

func (v *enumKind) UnmarshalJSON(b []byte) error {
	n, err := enumValue(b, tracepb.Span_SpanKind_value)
	*v = enumKind(n)
	return err
}

// enumStatus accepts an integer or a StatusCode name.
type enumStatus int32

func (v *enumStatus) UnmarshalJSON(b []byte) error {
	n, err := enumValue(b, tracepb.Status_StatusCode_value)
	*v = enumStatus(n)
	return err
}

func enumValue(b []byte, names map[string]int32) (int32, error) {
	s, quoted := unquote(b)
	if quoted {
		if n, ok := names[string(s)]; ok {
			return n, nil
		}
	}
	n, err := strconv.ParseInt(string(s), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("enum %s: %w", b, err)
	}
	return int32(n), nil
}
