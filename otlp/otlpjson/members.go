package otlpjson

import (
	"encoding/hex"
	"strconv"
)

// members writes the members of one JSON object, adding commas, for both
// writers (object from tracepb structs, wobj from wire bytes). Keys are
// given quoted with their colon, `"name":`, so writing one is one copy.
// Members with the proto3 default value are left out, as OTLP/JSON says.
type members struct {
	dst []byte
	n   int // members written
}

// key starts a member; qk is its quoted name and colon, `"name":`.
func (o *members) key(qk string) {
	if o.n > 0 {
		o.dst = append(o.dst, ',')
	}
	o.n++
	o.dst = append(o.dst, qk...)
}

// hexID writes a trace or span id in hex, as OTLP/JSON writes ids.
func (o *members) hexID(qk string, v []byte) {
	if len(v) > 0 {
		o.key(qk)
		o.dst = append(o.dst, '"')
		o.dst = hex.AppendEncode(o.dst, v)
		o.dst = append(o.dst, '"')
	}
}

func (o *members) u32(qk string, v uint32) {
	if v != 0 {
		o.key(qk)
		o.dst = strconv.AppendUint(o.dst, uint64(v), 10)
	}
}

func (o *members) i32(qk string, v int32) {
	if v != 0 {
		o.key(qk)
		o.dst = strconv.AppendInt(o.dst, int64(v), 10)
	}
}

// u64 writes a 64-bit integer as a decimal string, as OTLP/JSON writes them.
func (o *members) u64(qk string, v uint64) {
	if v != 0 {
		o.key(qk)
		o.dst = append(o.dst, '"')
		o.dst = strconv.AppendUint(o.dst, v, 10)
		o.dst = append(o.dst, '"')
	}
}
