// Package bytesize is the byte-count type of the configuration: "3MiB",
// "500MB", "1.5GiB" or a plain integer, in YAML, flags and the environment.
// It parses and formats sizes; it must never hold policy (limits belong to
// the component that uses the size).
package bytesize
