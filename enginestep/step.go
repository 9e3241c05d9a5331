package enginestep

import (
	"strconv"
	"strings"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Kind is the low-cardinality kind of a step, used as its root span's name.
type Kind string

// Step kinds.
const (
	// KindMixed is an execute_context_…_generation_… step with both context
	// (prefill) and generation (decode) requests.
	KindMixed Kind = "vllm.step.mixed"
	// KindPrefill has only context requests.
	KindPrefill Kind = "vllm.step.prefill"
	// KindDecode has only generation requests.
	KindDecode Kind = "vllm.step.decode"
	// KindEmpty is an execute_context_0(0)_generation_0(0) step.
	KindEmpty Kind = "vllm.step.empty"
	// KindExecute is an execute_new_N_cached_M step (vLLM Nov 2025 – Jan 2026):
	// new and cached request counts, no token counts.
	KindExecute Kind = "vllm.step.execute"
	// KindProfilerStep is a ProfilerStep#N annotation (torch.profiler schedule).
	KindProfilerStep Kind = "vllm.step.profiler_step"
)

// Unknown marks a count the annotation does not carry.
const Unknown = -1

// Annotation is what a step annotation's name says.
type Annotation struct {
	Kind Kind
	// Counts from execute_context_N(T)_generation_M(G); Unknown when absent.
	ContextRequests, ContextTokens       int
	GenerationRequests, GenerationTokens int
	// Counts from execute_new_N_cached_M; Unknown when absent.
	NewRequests, CachedRequests int
	// ProfilerStep is N of ProfilerStep#N; Unknown when absent.
	ProfilerStep int
}

// Requests returns the number of requests in the batch, or Unknown.
func (a Annotation) Requests() int {
	switch {
	case a.ContextRequests != Unknown && a.GenerationRequests != Unknown:
		return a.ContextRequests + a.GenerationRequests
	case a.NewRequests != Unknown && a.CachedRequests != Unknown:
		return a.NewRequests + a.CachedRequests
	}
	return Unknown
}

// AppendAttrs appends the counts the annotation carries as span attributes
// (vllm.step.context_requests, …, pytorch.profiler_step); unknown counts
// are left out.
func (a Annotation) AppendAttrs(dst []span.Attr) []span.Attr {
	for _, c := range [...]struct {
		k string
		v int
	}{
		{"vllm.step.context_requests", a.ContextRequests},
		{"vllm.step.context_tokens", a.ContextTokens},
		{"vllm.step.generation_requests", a.GenerationRequests},
		{"vllm.step.generation_tokens", a.GenerationTokens},
		{"vllm.step.new_requests", a.NewRequests},
		{"vllm.step.cached_requests", a.CachedRequests},
		{"pytorch.profiler_step", a.ProfilerStep},
	} {
		if c.v != Unknown {
			dst = append(dst, span.Int(c.k, int64(c.v)))
		}
	}
	return dst
}

// ParseAnnotation recognises a step annotation name. It returns false for
// any other name. It allocates nothing.
func ParseAnnotation(name string) (Annotation, bool) {
	a := Annotation{
		ContextRequests: Unknown, ContextTokens: Unknown,
		GenerationRequests: Unknown, GenerationTokens: Unknown,
		NewRequests: Unknown, CachedRequests: Unknown, ProfilerStep: Unknown,
	}
	switch {
	case strings.HasPrefix(name, "execute_context_"):
		rest := name[len("execute_context_"):]
		var ok bool
		if a.ContextRequests, a.ContextTokens, rest, ok = countPair(rest); !ok {
			return a, false
		}
		if !strings.HasPrefix(rest, "_generation_") {
			return a, false
		}
		rest = rest[len("_generation_"):]
		if a.GenerationRequests, a.GenerationTokens, rest, ok = countPair(rest); !ok || rest != "" {
			return a, false
		}
		switch {
		case a.ContextRequests > 0 && a.GenerationRequests > 0:
			a.Kind = KindMixed
		case a.ContextRequests > 0:
			a.Kind = KindPrefill
		case a.GenerationRequests > 0:
			a.Kind = KindDecode
		default:
			a.Kind = KindEmpty
		}
		return a, true
	case strings.HasPrefix(name, "execute_new_"):
		rest := name[len("execute_new_"):]
		i := strings.Index(rest, "_cached_")
		if i < 0 {
			return a, false
		}
		n, ok1 := atoi(rest[:i])
		c, ok2 := atoi(rest[i+len("_cached_"):])
		if !ok1 || !ok2 {
			return a, false
		}
		a.NewRequests, a.CachedRequests, a.Kind = n, c, KindExecute
		return a, true
	case strings.HasPrefix(name, "ProfilerStep#"):
		n, ok := atoi(name[len("ProfilerStep#"):])
		if !ok {
			return a, false
		}
		a.ProfilerStep, a.Kind = n, KindProfilerStep
		return a, true
	}
	return a, false
}

// countPair parses "N(T)" at the start of s.
func countPair(s string) (n, t int, rest string, ok bool) {
	open := strings.IndexByte(s, '(')
	if open <= 0 {
		return 0, 0, s, false
	}
	closeIdx := strings.IndexByte(s[open:], ')')
	if closeIdx < 0 {
		return 0, 0, s, false
	}
	closeIdx += open
	n, ok1 := atoi(s[:open])
	t, ok2 := atoi(s[open+1 : closeIdx])
	if !ok1 || !ok2 {
		return 0, 0, s, false
	}
	return n, t, s[closeIdx+1:], true
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// Step is one engine step found in a trace file: from the start of its
// annotation to the start of the next one (or to the end of its own
// annotation for the last step).
type Step struct {
	// Index is the 0-based order of the step's annotation in the file.
	Index int
	// Name is the annotation name as written in the trace.
	Name       string
	Annotation Annotation
	// Start and End are Unix ns on the host clock.
	Start, End int64
	// TraceID and RootSpanID identify the step trace's root span.
	TraceID    span.TraceID
	RootSpanID span.SpanID
	// Resource is the trace file's resource (rank, host, GPU).
	Resource *span.Resource
	// Summary figures the converter computed for the step.
	KernelCount int
	GPUBusyNs   int64
	// Bottleneck is the step's vllm.step.bottleneck (package insights);
	// empty when the converter ran without insights.
	Bottleneck string
}

// Link is the linker's answer for one step.
type Link struct {
	// RequestIDs are the external request ids the step served, sorted.
	RequestIDs []string
	// Links point at each request's span (llm_request, or the per-step
	// child span in the request's trace). The converter puts them on the
	// step root, keeping at most its link limit.
	Links []span.Link
}

// Linker decides which requests a step served. The converter calls LinkStep
// once per step, when the step's root span is about to be emitted; an
// implementation may also record the step to emit request-side spans.
type Linker interface {
	LinkStep(Step) Link
}

// Short is the kind without its "vllm.step." prefix ("decode"), the value
// of vllm.step.kind attributes; "unknown" for no kind.
func (k Kind) Short() string {
	if k == "" {
		return "unknown"
	}
	return strings.TrimPrefix(string(k), "vllm.step.")
}
