package vllmlog

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// LLMRequestSpan is one of vLLM's "llm_request" spans, reduced to what the
// linker needs.
type LLMRequestSpan struct {
	TraceID      span.TraceID
	SpanID       span.SpanID
	ParentSpanID span.SpanID
	Start, End   int64 // Unix ns
	// Attrs are the span's gen_ai.* attributes, content attributes removed
	// unless AllowPromptText.
	Attrs []span.Attr
}

// OTLPOptions configures DecodeOTLPJSON.
type OTLPOptions struct {
	// SpanName selects spans; default "llm_request".
	SpanName string
	// AllowPromptText keeps gen_ai content attributes (prompts, messages,
	// completions). Off by default.
	AllowPromptText bool
}

// ErrBadOTLP wraps every OTLP/JSON decoding failure.
var ErrBadOTLP = errors.New("vllmlog: bad OTLP/JSON")

type otlpDoc struct {
	ResourceSpans []struct {
		ScopeSpans []struct {
			Spans []otlpSpan `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

type otlpSpan struct {
	TraceID      string          `json:"traceId"`
	SpanID       string          `json:"spanId"`
	ParentSpanID string          `json:"parentSpanId"`
	Name         string          `json:"name"`
	Start        json.RawMessage `json:"startTimeUnixNano"`
	End          json.RawMessage `json:"endTimeUnixNano"`
	Attributes   []otlpKV        `json:"attributes"`
}

type otlpKV struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

type otlpValue struct {
	StringValue *string         `json:"stringValue"`
	IntValue    json.RawMessage `json:"intValue"`
	DoubleValue json.RawMessage `json:"doubleValue"`
	BoolValue   *bool           `json:"boolValue"`
	ArrayValue  *struct {
		Values []otlpValue `json:"values"`
	} `json:"arrayValue"`
}

// DecodeOTLPJSON reads OTLP/JSON trace data (one ExportTraceServiceRequest,
// or several one after another as the Collector's file exporter writes
// them) and returns the spans named opts.SpanName. Ids may be hex (the
// OTLP/JSON rule) or base64 (protojson's default).
func DecodeOTLPJSON(r io.Reader, opts OTLPOptions) ([]LLMRequestSpan, error) {
	name := opts.SpanName
	if name == "" {
		name = "llm_request"
	}
	dec := json.NewDecoder(r)
	var out []LLMRequestSpan
	for n := 0; ; n++ {
		var doc otlpDoc
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("%w: document %d: %v", ErrBadOTLP, n, err)
		}
		for _, rs := range doc.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for i := range ss.Spans {
					s := &ss.Spans[i]
					if s.Name != name {
						continue
					}
					sp, err := convertSpan(s, opts.AllowPromptText)
					if err != nil {
						return out, fmt.Errorf("%w: document %d: span %q: %v", ErrBadOTLP, n, s.SpanID, err)
					}
					out = append(out, sp)
				}
			}
		}
	}
}

func convertSpan(s *otlpSpan, allowText bool) (LLMRequestSpan, error) {
	var sp LLMRequestSpan
	if err := decodeID(s.TraceID, sp.TraceID[:]); err != nil || sp.TraceID.IsZero() {
		return sp, fmt.Errorf("trace id %q", s.TraceID)
	}
	if err := decodeID(s.SpanID, sp.SpanID[:]); err != nil || sp.SpanID.IsZero() {
		return sp, fmt.Errorf("span id %q", s.SpanID)
	}
	if s.ParentSpanID != "" {
		if err := decodeID(s.ParentSpanID, sp.ParentSpanID[:]); err != nil {
			return sp, fmt.Errorf("parent span id %q", s.ParentSpanID)
		}
	}
	var ok bool
	if sp.Start, ok = jsonInt(s.Start); !ok {
		return sp, errors.New("startTimeUnixNano")
	}
	if sp.End, ok = jsonInt(s.End); !ok {
		return sp, errors.New("endTimeUnixNano")
	}
	for _, kv := range s.Attributes {
		if !strings.HasPrefix(kv.Key, "gen_ai.") {
			continue
		}
		a, ok := convertValue(kv.Key, kv.Value)
		if !ok {
			continue
		}
		if !allowText && IsContentAttr(a) {
			continue
		}
		sp.Attrs = append(sp.Attrs, a)
	}
	return sp, nil
}

// IsContentAttr reports whether a gen_ai attribute may carry prompt or output
// content (text, messages, token ids) rather than ids, counts and times.
func IsContentAttr(a span.Attr) bool {
	k := a.Key
	for _, p := range []string{"gen_ai.prompt", "gen_ai.completion", "gen_ai.input.", "gen_ai.output.messages",
		"gen_ai.system_instructions", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"} {
		if strings.HasPrefix(k, p) && !strings.HasPrefix(k, "gen_ai.output.type") {
			return true
		}
	}
	if strings.Contains(k, "content") || strings.Contains(k, "message") || strings.HasSuffix(k, "token_ids") {
		return true
	}
	return false
}

func decodeID(s string, dst []byte) error {
	switch len(s) {
	case 2 * len(dst):
		_, err := hex.Decode(dst, []byte(s))
		return err
	case base64.StdEncoding.EncodedLen(len(dst)):
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return err
		}
		if len(b) != len(dst) {
			return errors.New("length")
		}
		copy(dst, b)
		return nil
	}
	return errors.New("length")
}

// jsonInt reads an int64 written as a JSON string or number.
func jsonInt(raw json.RawMessage) (int64, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

func jsonFloat(raw json.RawMessage) (float64, bool) {
	s := strings.TrimSpace(string(raw))
	switch strings.Trim(s, `"`) {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		return math.Inf(1), true
	case "-Infinity":
		return math.Inf(-1), true
	}
	v, err := strconv.ParseFloat(strings.Trim(s, `"`), 64)
	return v, err == nil
}

func convertValue(key string, v otlpValue) (span.Attr, bool) {
	switch {
	case v.StringValue != nil:
		return span.String(key, *v.StringValue), true
	case len(v.IntValue) > 0:
		n, ok := jsonInt(v.IntValue)
		return span.Int(key, n), ok
	case len(v.DoubleValue) > 0:
		f, ok := jsonFloat(v.DoubleValue)
		return span.Float(key, f), ok
	case v.BoolValue != nil:
		return span.Bool(key, *v.BoolValue), true
	case v.ArrayValue != nil:
		var strs []string
		var ints []int64
		for _, e := range v.ArrayValue.Values {
			switch {
			case e.StringValue != nil && ints == nil:
				strs = append(strs, *e.StringValue)
			case len(e.IntValue) > 0 && strs == nil:
				n, ok := jsonInt(e.IntValue)
				if !ok {
					return span.Attr{}, false
				}
				ints = append(ints, n)
			default:
				return span.Attr{}, false
			}
		}
		if ints != nil {
			return span.Ints(key, ints), true
		}
		return span.Strings(key, strs), true
	}
	return span.Attr{}, false
}
