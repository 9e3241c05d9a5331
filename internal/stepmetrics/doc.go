// Package stepmetrics turns the spans the bridge exports into OpenTelemetry
// metric measurements: per engine step (the step roots the converter
// writes, with the verdict attributes of issue 13: GPU time by class,
// host-wait idle time, bottleneck) and per request (the attributed GPU
// time on request spans). Every measurement on a histogram carries an
// exemplar context with the span's trace and span id, so a dashboard can
// jump from a bucket to the step trace.
//
// It reads spans only by their attribute names and never changes them.
// It never labels a measurement with anything of unbounded cardinality: no
// kernel names, request ids, trace ids or file names; labels are the step
// kind, the GPU time class, the bottleneck and the rank, each from a fixed
// set (rank from the resource). It sets up no MeterProvider or exporter of
// its own: the caller passes one in.
package stepmetrics
