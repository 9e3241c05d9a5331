//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
)

// This file decodes OTLP/JSON (the protobuf JSON mapping with hex ids, as the
// Collector's file exporter writes it and Jaeger's api_v3 returns it) into a
// flat, comparable span model. It is deliberately independent of the bridge's
// own encoder so the two check each other.

type otlpTracesData struct {
	ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
}

type otlpResourceSpans struct {
	Resource struct {
		Attributes []otlpKeyValue `json:"attributes"`
	} `json:"resource"`
	ScopeSpans []struct {
		Scope struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"scope"`
		Spans []otlpSpan `json:"spans"`
	} `json:"scopeSpans"`
}

type otlpSpan struct {
	TraceID      string          `json:"traceId"`
	SpanID       string          `json:"spanId"`
	ParentSpanID string          `json:"parentSpanId"`
	Name         string          `json:"name"`
	Kind         json.RawMessage `json:"kind"`
	Start        flexInt         `json:"startTimeUnixNano"`
	End          flexInt         `json:"endTimeUnixNano"`
	Attributes   []otlpKeyValue  `json:"attributes"`
	Events       []struct {
		Time       flexInt        `json:"timeUnixNano"`
		Name       string         `json:"name"`
		Attributes []otlpKeyValue `json:"attributes"`
	} `json:"events"`
	Links []struct {
		TraceID    string         `json:"traceId"`
		SpanID     string         `json:"spanId"`
		Attributes []otlpKeyValue `json:"attributes"`
	} `json:"links"`
	Status struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	} `json:"status"`
}

type otlpKeyValue struct {
	Key   string       `json:"key"`
	Value otlpAnyValue `json:"value"`
}

type otlpAnyValue struct {
	StringValue *string  `json:"stringValue"`
	IntValue    *flexInt `json:"intValue"`
	DoubleValue *float64 `json:"doubleValue"`
	BoolValue   *bool    `json:"boolValue"`
	ArrayValue  *struct {
		Values []otlpAnyValue `json:"values"`
	} `json:"arrayValue"`
}

// flexInt accepts an int64 written as a JSON string (the OTLP/JSON rule) or
// as a bare number (which decoders must also accept).
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("int64 %s: %w", b, err)
	}
	*f = flexInt(v)
	return nil
}

// value turns an AnyValue into string, int64, float64, bool or []any.
func (v otlpAnyValue) value() any {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.IntValue != nil:
		return int64(*v.IntValue)
	case v.DoubleValue != nil:
		return *v.DoubleValue
	case v.BoolValue != nil:
		return *v.BoolValue
	case v.ArrayValue != nil:
		out := make([]any, len(v.ArrayValue.Values))
		for i, e := range v.ArrayValue.Values {
			out[i] = e.value()
		}
		return out
	}
	return nil
}

func attrMap(kvs []otlpKeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.value()
	}
	return m
}

// Link is a span link in the flat model.
type Link struct {
	TraceID, SpanID string
	Attrs           map[string]any
}

// Span is one span in the flat model, with its resource and scope inlined.
type Span struct {
	TraceID, SpanID, Parent string
	Name                    string
	Kind                    string // OTLP enum number as text, e.g. "2"
	Start, End              int64
	Attrs                   map[string]any
	Events                  []string // names
	Links                   []Link
	StatusCode              string
	Resource                map[string]any
	Scope                   string
}

// Category returns the span's kineto.category attribute, or "".
func (s *Span) Category() string {
	c, _ := s.Attrs["kineto.category"].(string)
	return c
}

// ServiceName returns the span's resource service.name.
func (s *Span) ServiceName() string {
	n, _ := s.Resource["service.name"].(string)
	return n
}

// enumText normalises an OTLP enum written as a number or as its name.
func enumText(raw json.RawMessage, names map[string]string) string {
	s := string(bytes.Trim(raw, `"`))
	if s == "" || s == "null" {
		return "0"
	}
	if n, ok := names[s]; ok {
		return n
	}
	return s
}

var spanKindNames = map[string]string{
	"SPAN_KIND_UNSPECIFIED": "0", "SPAN_KIND_INTERNAL": "1", "SPAN_KIND_SERVER": "2",
	"SPAN_KIND_CLIENT": "3", "SPAN_KIND_PRODUCER": "4", "SPAN_KIND_CONSUMER": "5",
}

var statusCodeNames = map[string]string{
	"STATUS_CODE_UNSET": "0", "STATUS_CODE_OK": "1", "STATUS_CODE_ERROR": "2",
}

// flatten appends every span of td to out.
func (td *otlpTracesData) flatten(out []Span) []Span {
	for _, rs := range td.ResourceSpans {
		res := attrMap(rs.Resource.Attributes)
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				s := Span{
					TraceID: sp.TraceID, SpanID: sp.SpanID, Parent: sp.ParentSpanID,
					Name: sp.Name, Kind: enumText(sp.Kind, spanKindNames),
					Start: int64(sp.Start), End: int64(sp.End),
					Attrs: attrMap(sp.Attributes), Resource: res, Scope: ss.Scope.Name,
					StatusCode: enumText(sp.Status.Code, statusCodeNames),
				}
				for _, e := range sp.Events {
					s.Events = append(s.Events, e.Name)
				}
				for _, l := range sp.Links {
					s.Links = append(s.Links, Link{TraceID: l.TraceID, SpanID: l.SpanID, Attrs: attrMap(l.Attributes)})
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// decodeOTLPJSON decodes one OTLP/JSON TracesData document.
func decodeOTLPJSON(b []byte) ([]Span, error) {
	var td otlpTracesData
	if err := json.Unmarshal(b, &td); err != nil {
		return nil, fmt.Errorf("decode OTLP/JSON: %w", err)
	}
	return td.flatten(nil), nil
}

// readOTLPJSONLines reads a file of OTLP/JSON TracesData documents, one per
// line (the Collector file exporter's format, and the bridge's -o output).
func readOTLPJSONLines(path string) ([]Span, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeOTLPJSONLines(f, path)
}

func decodeOTLPJSONLines(r io.Reader, name string) ([]Span, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	var spans []Span
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var td otlpTracesData
		if err := json.Unmarshal(b, &td); err != nil {
			return nil, fmt.Errorf("%s:%d: decode OTLP/JSON line: %w", name, line, err)
		}
		spans = td.flatten(spans)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return spans, nil
}

// Trace is the spans of one trace id, deduplicated by span id (Jaeger's
// memory store appends rather than replaces when a span arrives twice).
type Trace struct {
	ID    string
	Spans map[string]*Span // by span id
}

// groupTraces groups spans by trace id; a repeated span id keeps the first.
func groupTraces(spans []Span) map[string]*Trace {
	out := map[string]*Trace{}
	for i := range spans {
		s := &spans[i]
		t := out[s.TraceID]
		if t == nil {
			t = &Trace{ID: s.TraceID, Spans: map[string]*Span{}}
			out[s.TraceID] = t
		}
		if _, dup := t.Spans[s.SpanID]; !dup {
			t.Spans[s.SpanID] = s
		}
	}
	return out
}

// Roots returns the spans without a parent, sorted by start time.
func (t *Trace) Roots() []*Span {
	var r []*Span
	for _, s := range t.Spans {
		if s.Parent == "" {
			r = append(r, s)
		}
	}
	sort.Slice(r, func(i, j int) bool { return r[i].Start < r[j].Start })
	return r
}

// Orphans returns spans whose parent is not in the trace.
func (t *Trace) Orphans() []*Span {
	var r []*Span
	for _, s := range t.Spans {
		if s.Parent != "" && t.Spans[s.Parent] == nil {
			r = append(r, s)
		}
	}
	return r
}

// Sorted returns the spans sorted by (start, span id).
func (t *Trace) Sorted() []*Span {
	r := make([]*Span, 0, len(t.Spans))
	for _, s := range t.Spans {
		r = append(r, s)
	}
	sort.Slice(r, func(i, j int) bool {
		if r[i].Start != r[j].Start {
			return r[i].Start < r[j].Start
		}
		return r[i].SpanID < r[j].SpanID
	})
	return r
}

// onlyService keeps the spans whose resource service.name is name.
func onlyService(spans []Span, name string) []Span {
	var out []Span
	for _, s := range spans {
		if s.ServiceName() == name {
			out = append(out, s)
		}
	}
	return out
}

// intAttr reads an integer attribute that may have been written as int,
// double or decimal string.
func intAttr(m map[string]any, key string) (int64, bool) {
	switch v := m[key].(type) {
	case int64:
		return v, true
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true
		}
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// filterOTLPJSON returns doc with only the spans keep accepts (by span id),
// dropping scopes and resources left empty.
func filterOTLPJSON(doc []byte, keep func(spanID string) bool) ([]byte, error) {
	var td map[string]any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&td); err != nil {
		return nil, fmt.Errorf("decode OTLP/JSON: %w", err)
	}
	var outRS []any
	for _, rsv := range td["resourceSpans"].([]any) {
		rs := rsv.(map[string]any)
		var outSS []any
		for _, ssv := range rs["scopeSpans"].([]any) {
			ss := ssv.(map[string]any)
			var kept []any
			for _, sp := range ss["spans"].([]any) {
				if keep(sp.(map[string]any)["spanId"].(string)) {
					kept = append(kept, sp)
				}
			}
			if len(kept) > 0 {
				ss["spans"] = kept
				outSS = append(outSS, ss)
			}
		}
		if len(outSS) > 0 {
			rs["scopeSpans"] = outSS
			outRS = append(outRS, rs)
		}
	}
	td["resourceSpans"] = outRS
	return json.Marshal(td)
}

// readOTLPJSONFile reads one OTLP/JSON TracesData document from a file.
func readOTLPJSONFile(path string) ([]Span, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeOTLPJSON(b)
}
