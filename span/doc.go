// Package span defines the compact, transport-neutral span records that the
// converter and the linker build and the exporter encodes as OTLP.
//
// It is the one contract between the packages that make spans and the package
// that ships them. It never does I/O, never knows Kineto, vLLM or any
// transport, and never allocates on behalf of its callers beyond what the
// constructors return.
//
// Times are Unix nanoseconds (int64). IDs are deterministic: IDSource derives
// trace and span IDs from a seed (a trace file's identity) and a per-event
// key, so converting the same file twice yields byte-identical IDs.
package span
