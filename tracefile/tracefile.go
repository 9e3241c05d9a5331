package tracefile

import (
	"strconv"
	"strings"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Era names the file-naming scheme a worker part was recognised as.
const (
	EraDPRank       = "dp_rank"       // [<prefix>_]dp<D>_pp<P>_tp<T>_dcp<C>_ep<E>_rank<R>, vLLM v0.17+
	EraInstanceRank = "instance_rank" // <instance_ns>-rank-<R>, vLLM v0.11.1-v0.16
	EraFrontend     = "frontend"      // <host>_<pid>.async_llm, the CPU-only API-server trace
	EraHostPID      = "host_pid"      // <host>_<pid>, vLLM v0.8-v0.11.0 and PyTorch's default
	EraUnknown      = "unknown"       // the outer shape matched, the worker part did not
)

// Roles for the vllm.process.role resource attribute.
const (
	RoleWorker   = "worker"
	RoleFrontend = "frontend"
)

const (
	suffixJSON  = ".pt.trace.json"
	suffixGzip  = ".pt.trace.json.gz"
	frontendTag = ".async_llm"
)

// Info is what a trace file's base name says about the file and the process
// that wrote it. Numeric identities that the name does not carry are -1
// (PID is 0 when unknown).
type Info struct {
	Base   string // the base name that was parsed
	Worker string // everything before .<timestamp>.pt.trace.json[.gz]
	Prefix string // the user's profile prefix (v0.17+), if any

	Host     string // host name (host_pid and frontend eras)
	PID      int    // process id (host_pid and frontend eras); 0 unknown
	Instance string // vLLM instance id, decimal ns (instance_rank era)

	DP, PP, TP, DCP, EP int // parallel ranks (dp_rank era); -1 unknown
	Rank                int // global rank; -1 unknown

	Frontend bool // the API-server (AsyncLLM) CPU-only trace

	// ExportTime is when PyTorch wrote the file, from the name's timestamp
	// (ns, or ms for files older than PyTorch PR #97392). Zero when the
	// number is too small to be either.
	ExportTime time.Time
	Stamp      uint64 // the raw timestamp number from the name

	Gzip bool   // name ends in .gz
	Era  string // one of the Era* constants
}

// Parse recognises a trace file name. name may be a path; only its base
// name (after the last '/' or '\') is used. ok is false when the name is not
// a PyTorch trace file name at all.
func Parse(name string) (info Info, ok bool) {
	base := baseName(name)
	info = Info{Base: base, DP: -1, PP: -1, TP: -1, DCP: -1, EP: -1, Rank: -1, Era: EraUnknown}
	var rest string
	switch {
	case strings.HasSuffix(base, suffixGzip):
		info.Gzip = true
		rest = base[:len(base)-len(suffixGzip)]
	case strings.HasSuffix(base, suffixJSON):
		rest = base[:len(base)-len(suffixJSON)]
	default:
		return Info{}, false
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot <= 0 { // need a non-empty worker and a timestamp
		return Info{}, false
	}
	digits := rest[dot+1:]
	if !allDigits(digits) {
		return Info{}, false
	}
	info.Worker = rest[:dot]
	if n, err := strconv.ParseUint(digits, 10, 64); err == nil {
		info.Stamp = n
		info.ExportTime = stampTime(n)
	}
	if !info.ExportTime.IsZero() {
		// Only PyTorch's tensorboard_trace_handler names are parsed
		// further; it always writes a time. Other tools' names (such as
		// HTA's "rank-0.Apr_03_18_51_38.1102") would be misread.
		parseWorker(&info)
	}
	return info, true
}

// stampTime turns the name's number into a time: ns since PyTorch PR
// #97392 (2023), ms before. Anything below 1e11 (1973 in ms) is not a time.
func stampTime(n uint64) time.Time {
	switch {
	case n >= 1e17 && n <= 1<<63-1: // ns
		return time.Unix(0, int64(n)).UTC()
	case n >= 1e14 && n < 1e17: // µs: no PyTorch release writes it, but it is unambiguous
		return time.UnixMicro(int64(n)).UTC()
	case n >= 1e11 && n < 1e14: // ms
		return time.UnixMilli(int64(n)).UTC()
	}
	return time.Time{}
}

func parseWorker(info *Info) {
	w := info.Worker
	if parseDPRank(info, w) {
		return
	}
	if inst, rank, ok := parseInstanceRank(w); ok {
		info.Era, info.Instance, info.Rank = EraInstanceRank, inst, rank
		return
	}
	if hp, ok := strings.CutSuffix(w, frontendTag); ok && hp != "" {
		info.Era, info.Frontend = EraFrontend, true
		info.Host, info.PID = splitHostPID(hp)
		if info.PID == 0 {
			info.Host = hp
		}
		return
	}
	if host, pid := splitHostPID(w); pid > 0 {
		info.Era, info.Host, info.PID = EraHostPID, host, pid
	}
}

// parseDPRank matches [<prefix>_]dp<D>_pp<P>_tp<T>_dcp<C>_ep<E>_rank<R> and
// the fallback [<prefix>_]rank<R> that vLLM writes when it has no parallel
// layout.
func parseDPRank(info *Info, w string) bool {
	i := strings.LastIndex(w, "rank")
	if i < 0 {
		return false
	}
	rank, ok := atoi(w[i+len("rank"):])
	if !ok {
		return false
	}
	head := w[:i]
	if head != "" && !strings.HasSuffix(head, "_") {
		return false
	}
	head = strings.TrimSuffix(head, "_")
	// Try to peel _ep, _dcp, _tp, _pp, _dp from the right.
	keys := [...]string{"ep", "dcp", "tp", "pp", "dp"}
	var vals [len(keys)]int
	h := head
	full := true
	for k, key := range keys {
		j := strings.LastIndexByte(h, '_')
		field := h[j+1:]
		v, ok := cutNum(field, key)
		if !ok {
			full = false
			break
		}
		vals[k] = v
		if j < 0 {
			h = ""
		} else {
			h = h[:j]
		}
		if h == "" && k != len(keys)-1 {
			full = false
			break
		}
	}
	info.Era, info.Rank = EraDPRank, rank
	if full {
		info.EP, info.DCP, info.TP, info.PP, info.DP = vals[0], vals[1], vals[2], vals[3], vals[4]
		info.Prefix = h
	} else {
		info.Prefix = head
	}
	return true
}

// cutNum parses "<key><digits>".
func cutNum(field, key string) (int, bool) {
	d, ok := strings.CutPrefix(field, key)
	if !ok {
		return 0, false
	}
	return atoi(d)
}

func parseInstanceRank(w string) (string, int, bool) {
	inst, r, ok := strings.Cut(w, "-rank-")
	if !ok || !allDigits(inst) {
		return "", 0, false
	}
	rank, ok := atoi(r)
	if !ok {
		return "", 0, false
	}
	return inst, rank, true
}

// splitHostPID splits "<host>_<pid>" at the last '_' followed only by
// digits. Host names may contain '_' and '.'. pid is 0 when there is none.
func splitHostPID(s string) (string, int) {
	j := strings.LastIndexByte(s, '_')
	if j <= 0 {
		return "", 0
	}
	pid, ok := atoi(s[j+1:])
	if !ok || pid == 0 {
		return "", 0
	}
	return s[:j], pid
}

// atoi parses a non-empty run of ASCII digits that fits in an int32.
func atoi(s string) (int, bool) {
	if !allDigits(s) || len(s) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Role is "frontend" for the API-server trace and "worker" otherwise.
func (i Info) Role() string {
	if i.Frontend {
		return RoleFrontend
	}
	return RoleWorker
}

// ResourceAttrs returns the resource attributes the name implies, only
// those that are known: vllm.rank, vllm.dp_rank, vllm.pp_rank,
// vllm.tp_rank, vllm.dcp_rank, vllm.ep_rank, vllm.instance_id,
// vllm.profile.prefix, vllm.process.role, host.name, process.pid and
// vllm.trace.file (the base name).
func (i Info) ResourceAttrs() []span.Attr {
	attrs := make([]span.Attr, 0, 12)
	ranks := [...]struct {
		key string
		v   int
	}{
		{"vllm.rank", i.Rank}, {"vllm.dp_rank", i.DP}, {"vllm.pp_rank", i.PP},
		{"vllm.tp_rank", i.TP}, {"vllm.dcp_rank", i.DCP}, {"vllm.ep_rank", i.EP},
	}
	for _, r := range ranks {
		if r.v >= 0 {
			attrs = append(attrs, span.Int(r.key, int64(r.v)))
		}
	}
	if i.Instance != "" {
		attrs = append(attrs, span.String("vllm.instance_id", i.Instance))
	}
	if i.Prefix != "" {
		attrs = append(attrs, span.String("vllm.profile.prefix", i.Prefix))
	}
	attrs = append(attrs, span.String("vllm.process.role", i.Role()))
	if i.Host != "" {
		attrs = append(attrs, span.String("host.name", i.Host))
	}
	if i.PID > 0 {
		attrs = append(attrs, span.Int("process.pid", int64(i.PID)))
	}
	attrs = append(attrs, span.String("vllm.trace.file", i.Base))
	return attrs
}

// Ignored reports whether a path inside a watched directory must never be
// treated as a trace: Kineto's "*.tmp" files (an uncompressed trace before
// its rename), vLLM's "profiler_out_*.txt" tables, and anything under a
// "capture_traces" directory. Both '/' and '\' separate path elements.
func Ignored(path string) bool {
	base := baseName(path)
	if strings.HasSuffix(base, ".tmp") {
		return true
	}
	if strings.HasPrefix(base, "profiler_out_") && strings.HasSuffix(base, ".txt") {
		return true
	}
	for p := path; p != ""; {
		i := strings.IndexAny(p, `/\`)
		if i < 0 {
			break // the last element is the file itself
		}
		if p[:i] == "capture_traces" {
			return true
		}
		p = p[i+1:]
	}
	return false
}
