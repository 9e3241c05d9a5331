// Package stats holds the small, pure statistics that `vllm-otel-bridge
// diff` judges a change by: the Mann-Whitney U test (exact for small
// samples without ties, normal approximation with tie and continuity
// corrections otherwise) and a percentile bootstrap confidence interval
// for a difference of means, seeded so that one input always gives one
// answer.
//
// Every function is a pure function of its arguments: no I/O, no global
// state, no hidden randomness (the bootstrap takes its seed). The package
// must never depend on the bridge's other packages, so that its tests
// check it against published values alone.
package stats
