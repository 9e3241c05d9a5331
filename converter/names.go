package converter

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
)

// maxShortName bounds a shortened kernel name (bytes).
const maxShortName = 200

// shortKernelName returns the function name of a demangled CUDA kernel
// signature without return type, namespaces, template arguments and
// parameters:
//
//	void at::native::vectorized_gather_kernel<16, long>(char*, …) → vectorized_gather_kernel
//	ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>) → ncclDevKernel_AllReduce_Sum_bf16_RING_LL
//	ampere_sgemm_128x64_tn → ampere_sgemm_128x64_tn
//
// A generic last component ("kernel", "run", …) keeps its enclosing scope
// (gemvx::kernel). Anonymous namespaces and lambdas ("(anonymous
// namespace)", "{lambda(int)#1}") are skipped. If nothing usable remains,
// the name is returned as is, cut to a bounded length.
func shortKernelName(name string) string {
	if name == "" {
		return name
	}
	// Keep only what is outside any bracket pair.
	var b strings.Builder
	b.Grow(min(len(name), 256))
	depth := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch c {
		case '<', '(', '[', '{':
			if c == '<' && depth == 0 && strings.HasSuffix(name[:i], "operator") {
				b.WriteByte(c)
				continue
			}
			depth++
			continue
		case '>', ')', ']', '}':
			if depth > 0 {
				depth--
				continue
			}
			if c == '>' && i > 0 && name[i-1] == '-' {
				b.WriteByte(c)
				continue
			}
			continue
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	flat := strings.TrimSpace(b.String())
	// The return type and qualifiers precede the last space.
	if i := strings.LastIndexByte(flat, ' '); i >= 0 {
		flat = flat[i+1:]
	}
	parts := strings.Split(flat, "::")
	var keep []string
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		keep = append(keep, p)
	}
	if len(keep) == 0 {
		return truncateName(name)
	}
	last := keep[len(keep)-1]
	if len(keep) > 1 && genericKernelName(last) {
		last = keep[len(keep)-2] + "::" + last
	}
	return truncateName(last)
}

func genericKernelName(s string) bool {
	switch s {
	case "kernel", "Kernel", "run", "operator()", "device_kernel", "Kernel2", "invoke", "entry":
		return true
	}
	return len(s) <= 2
}

func truncateName(s string) string {
	if len(s) <= maxShortName {
		return s
	}
	s = s[:maxShortName]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// GPUStepSpanName names the GPU-side copy of a step annotation (a
// gpu_user_annotation named execute_context_…): its raw name, with batch
// sizes, would make one operation per token count; it is kept in
// vllm.step.name.
const GPUStepSpanName = "vllm.step.gpu"

// otherSpanName is the span name of a GPU annotation or a Python frame:
// the GPU-side copy of a step annotation is GPUStepSpanName, that of any
// other annotation "gpu:" and its label (it nests under its CPU-side
// annotation, and the two stay apart in a name search); Python frames lose
// their object addresses.
func otherSpanName(k kind, name string) string {
	if k == kindPython {
		return stripAddresses(name)
	}
	if name == "" {
		return ""
	}
	if _, ok := enginestep.ParseAnnotation(name); ok {
		return GPUStepSpanName
	}
	return "gpu:" + name
}

// pyFrame is a parsed python_function name.
type pyFrame struct {
	function string
	file     string
	line     int64 // 0 when unknown
}

// parsePythonFrame parses "path/to/file.py(123): func". Other names
// ("nn.Module: Linear_0", "<built-in method ...>", C function names) give
// only the function name. Object addresses are cut out of the function
// name (stripAddresses).
func parsePythonFrame(name string) pyFrame {
	if i := strings.Index(name, "): "); i > 0 {
		if open := strings.LastIndexByte(name[:i], '('); open > 0 {
			if n, err := strconv.ParseInt(name[open+1:i], 10, 64); err == nil && n >= 0 {
				return pyFrame{function: stripAddresses(name[i+3:]), file: name[:open], line: n}
			}
		}
	}
	return pyFrame{function: stripAddresses(name)}
}

// stripAddresses removes the " at 0x…" of Python object reprs
// ("<built-in method replay of CUDAGraph object at 0x7ffae17168f0>" →
// "<built-in method replay of CUDAGraph object>"), which would make every
// process's names distinct; other text is kept as written. It allocates
// only when there is an address.
func stripAddresses(s string) string {
	const marker = " at 0x"
	if !strings.Contains(s, marker) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, marker)
		if i < 0 {
			break
		}
		j := i + len(marker)
		for j < len(s) && hexDigit(s[j]) {
			j++
		}
		if j == i+len(marker) || j < len(s) && wordByte(s[j]) { // not an address
			b.WriteString(s[:j])
			s = s[j:]
			continue
		}
		b.WriteString(s[:i])
		s = s[j:]
	}
	b.WriteString(s)
	return b.String()
}

func wordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func hexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
