package converter

import (
	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter/internal/recstore"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/enginestep"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/insights"
)

// stepInsights hands the loaded step trace (b.v) to the insights
// Analyzer: every kernel, memcpy and memset of the trace (cap or no cap),
// under its launch when the launch is in the trace; the CPU spans the
// converter's cpu_ns counts; the [memory] events that fell in it.
func (b *builder) stepInsights(start, end int64, a enginestep.Annotation) insights.Step {
	if b.an == nil {
		th := b.opts.Thresholds
		if th == (insights.Thresholds{}) {
			th = insights.DefaultThresholds()
		}
		b.an = insights.NewAnalyzer(th)
		b.classes = map[uint32]insights.Class{}
	}
	an, v := b.an, &b.v
	an.Reset()
	if v.step >= 0 {
		r := &v.ents[v.step].rec
		an.AddCPU(insights.CPUOther, uint64(r.pid)<<32|uint64(r.tid), r.ts, r.end())
	}
	for _, i := range v.members {
		r := b.rec(i)
		switch r.kind {
		case kindKernel, kindMemcpy, kindMemset:
			an.AddGPU(b.gpuOp(i, r))
		case kindGPUAnnot, kindGPUOther:
		case kindCPUOp:
			an.AddCPU(insights.CPUAten, uint64(r.pid)<<32|uint64(r.tid), r.ts, r.end())
		case kindLaunch:
			an.AddCPU(insights.CPURuntime, uint64(r.pid)<<32|uint64(r.tid), r.ts, r.end())
		case kindPython:
			an.AddCPU(insights.CPUPython, uint64(r.pid)<<32|uint64(r.tid), r.ts, r.end())
		default:
			an.AddCPU(insights.CPUOther, uint64(r.pid)<<32|uint64(r.tid), r.ts, r.end())
		}
	}
	for _, e := range v.events {
		if r := b.rec(e); r.flags&flagMemory != 0 {
			total, bytes := b.memoryArgs(r)
			an.AddMemory(total, bytes)
		}
	}
	var tokens int64
	if a.ContextTokens > 0 {
		tokens += int64(a.ContextTokens)
	}
	if a.GenerationTokens > 0 {
		tokens += int64(a.GenerationTokens)
	}
	return an.Analyze(start, end, tokens)
}

func (b *builder) gpuOp(i int32, r *record) insights.GPUOp {
	op := insights.GPUOp{Start: r.ts, End: r.end(), Key: uint64(r.name)}
	switch r.kind {
	case kindKernel:
		op.Kind = insights.OpKernel
		c, ok := b.classes[r.name]
		if !ok {
			c = insights.Classify(b.p.in.str(r.name), b.catName(r))
			b.classes[r.name] = c
		}
		op.Class = c
		op.Name = b.spanName(r)
	case kindMemcpy:
		op.Kind, op.Class = insights.OpMemcpy, insights.ClassMemcpy
		op.Dir = insights.CopyDirection(b.p.in.str(r.name))
		op.Bytes = b.intArg(r, "bytes")
	case kindMemset:
		op.Kind, op.Class = insights.OpMemset, insights.ClassMemset
	}
	if p := b.v.ents[i].parent; p >= 0 {
		if l := b.rec(p); l.kind == kindLaunch {
			op.Launched, op.Launch = true, uint64(p)
			op.LaunchStart, op.LaunchEnd = l.ts, l.end()
		}
	}
	return op
}

// intArg returns r's integer arg key, 0 when absent.
func (b *builder) intArg(r *record, key string) int64 {
	var it recstore.ArgIter
	it.Reset(b.p.args.Get(r.args, r.argLen))
	var v recstore.ArgValue
	for it.Next(&v) {
		if v.Typ == recstore.ArgInt && b.p.in.str(v.Key) == key {
			return v.Num
		}
	}
	return 0
}

// memoryArgs returns a [memory] event's "Total Allocated" (-1 when
// absent) and "Bytes".
func (b *builder) memoryArgs(r *record) (total, bytes int64) {
	total = -1
	var it recstore.ArgIter
	it.Reset(b.p.args.Get(r.args, r.argLen))
	var v recstore.ArgValue
	for it.Next(&v) {
		if v.Typ != recstore.ArgInt {
			continue
		}
		switch b.p.in.str(v.Key) {
		case "Total Allocated":
			total = v.Num
		case "Bytes":
			bytes = v.Num
		}
	}
	return total, bytes
}
