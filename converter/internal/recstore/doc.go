// Package recstore is the converter's record store: where the compact
// records, their encoded args and the per-window and per-trace buckets
// live between reading the input and emitting spans. Scratch is the
// storage under all of them (Options.Spill when set, else memory, one code
// path); Chunks is the append-only store of records in file order, read
// back once by Scan; BucketSet keeps many append-only buckets with bounded
// memory; Arena holds the encoded args (AppendArg*, read back by ArgIter)
// and reads spilled chunks back through a small cache.
//
// It stores pointer-free values as bytes and gives them back unchanged; it
// must never interpret them (what a record means, which bucket a record
// goes to and when, is the converter's), never open, close or remove the
// Spill (the caller owns it), never write a piece twice or out of order,
// and never fail silently: after a Spill error every read reports it
// (Scratch.Err, Arena.Err) instead of returning short data.
package recstore
