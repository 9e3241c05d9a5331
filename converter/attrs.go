package converter

import (
	"strconv"
	"strings"
)

// argAttrNames maps Kineto arg keys to attribute names. Keys not listed
// become "kineto.arg.<sanitised key>"; NCCL keys become "nccl.<key>".
var argAttrNames = map[string]string{
	"External id":                       "pytorch.external_id",
	"external id":                       "pytorch.external_id",
	"correlation":                       "cuda.correlation_id",
	"cbid":                              "cuda.runtime.cbid",
	"device":                            "gpu.device.id",
	"stream":                            "gpu.stream.id",
	"context":                           "cuda.context.id",
	"queued":                            "cuda.kernel.queued",
	"grid":                              "cuda.kernel.grid",
	"block":                             "cuda.kernel.block",
	"registers per thread":              "cuda.kernel.registers_per_thread",
	"shared memory":                     "cuda.kernel.shared_memory",
	"blocks per SM":                     "cuda.kernel.blocks_per_sm",
	"warps per SM":                      "cuda.kernel.warps_per_sm",
	"est. achieved occupancy %":         "cuda.kernel.occupancy_pct",
	"graph id":                          "cuda.graph.id",
	"graph node id":                     "cuda.graph.node_id",
	"bytes":                             "cuda.memcpy.bytes",
	"memory bandwidth (GB/s)":           "cuda.memcpy.bandwidth_gbps",
	"cuda_sync_kind":                    "cuda.sync.kind",
	"wait_on_stream":                    "cuda.sync.wait_on_stream",
	"wait_on_cuda_event_record_corr_id": "cuda.sync.wait_on_event_record_correlation_id",
	"wait_on_cuda_event_id":             "cuda.sync.wait_on_event_id",
	"Input Dims":                        "pytorch.input_dims",
	"Input type":                        "pytorch.input_types",
	"Input Strides":                     "pytorch.input_strides",
	"Concrete Inputs":                   "pytorch.concrete_inputs",
	"Sequence number":                   "pytorch.sequence_number",
	"Fwd thread id":                     "pytorch.fwd_thread_id",
	"Record function id":                "pytorch.record_function_id",
	"Ev Idx":                            "pytorch.ev_idx",
	"Python id":                         "python.id",
	"Python parent id":                  "python.parent_id",
	"Python module id":                  "python.module_id",
}

// memoryAttrNames maps [memory] instant args to span-event attributes.
var memoryAttrNames = map[string]string{
	"Bytes":           "memory.bytes",
	"Addr":            "memory.addr",
	"Total Allocated": "memory.total_allocated",
	"Total Reserved":  "memory.total_reserved",
	"Device Type":     "memory.device.type",
	"Device Id":       "memory.device.id",
}

var ncclArgs = map[string]bool{
	"Collective name": true, "In msg nelems": true, "Out msg nelems": true, "Group size": true,
	"dtype": true, "In split size": true, "Out split size": true, "Process Group Name": true,
	"Process Group Description": true, "Process Group Ranks": true, "Src Rank": true,
	"Dst Rank": true, "Seq": true, "Comms Id": true, "Input Tensors start": true,
	"Output Tensors start": true, "Rank": true,
}

// sanitizeKey lowercases a key and turns every run of characters other
// than [a-z0-9] into one '_'.
func sanitizeKey(k string) string {
	var b strings.Builder
	b.Grow(len(k))
	under := false
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
			fallthrough
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteByte(c)
		default:
			under = true
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// attrName returns the attribute name for arg key (interned id), cached.
func (b *builder) attrName(key uint32, memory bool) string {
	cache := &b.keyNames
	if memory {
		cache = &b.memKeyNames
	}
	for int(key) >= len(*cache) {
		*cache = append(*cache, "")
	}
	if s := (*cache)[key]; s != "" {
		return s
	}
	k := b.p.in.str(key)
	var s string
	if memory {
		s = memoryAttrNames[k]
	}
	if s == "" {
		s = argAttrNames[k]
	}
	if s == "" {
		if ncclArgs[k] {
			s = "nccl." + sanitizeKey(k)
		} else {
			s = "kineto.arg." + sanitizeKey(k)
		}
	}
	(*cache)[key] = s
	return s
}

// formatVersion is kept as the raw integer Kineto writes (e.g. 13000).
func intOrString(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
