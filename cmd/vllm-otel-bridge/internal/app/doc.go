// Package app is the vllm-otel-bridge command: it turns flags, environment
// and the YAML file into configuration, builds the logger, metrics and health
// server, wires the watcher, converter, linker, receiver and exporter
// together, and runs the run, convert and version subcommands.
//
// It never parses traces or logs and never encodes spans itself: those are
// the jobs of the packages it wires.
package app
