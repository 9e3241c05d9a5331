// Command gentrace makes large Kineto trace files for benchmarks by
// repeating the events of a real trace: each copy's timestamps are shifted
// past the previous copy and its CUDA correlation ids, External ids and
// flow ids are offset, so every copy links only within itself and the
// result converts like one long capture. The last copy is cut at an event
// boundary to hit the requested size.
//
// Usage:
//
//	gentrace -in FIXTURE.pt.trace.json[.gz] -size 500MB -o OUT.json[.gz]
//
// A .gz output is written with gzip level 1. It is a benchmark tool: it
// expects the layout the profiler writes ("traceEvents": [ … ], events
// separated by "},\n  {") and never edits the input.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gentrace:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gentrace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "source trace (.json or .json.gz)")
	out := fs.String("o", "", "output file (.json or .json.gz)")
	sizeText := fs.String("size", "100MB", "uncompressed size to reach: bytes, or with KB/MB/GB (decimal)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return fmt.Errorf("need -in and -o")
	}
	size, err := parseSize(*sizeText)
	if err != nil {
		return err
	}
	plain, err := readPlain(*in)
	if err != nil {
		return err
	}
	t, err := parseTemplate(plain)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	var w io.Writer = f
	var zw *gzip.Writer
	if strings.HasSuffix(*out, ".gz") {
		zw, _ = gzip.NewWriterLevel(f, gzip.BestSpeed)
		w = zw
	}
	n, copies, err := generate(w, t, size)
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *out, err)
	}
	fmt.Fprintf(stderr, "gentrace: %s: %d bytes of JSON, %d copies of %s\n", *out, n, copies, *in)
	return nil
}

func readPlain(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return plain, nil
}

// parseSize reads "123", "100MB", "2GB", "64KB" (powers of 1000).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	u := strings.ToUpper(strings.TrimSpace(s))
	for _, x := range []struct {
		suffix string
		m      int64
	}{{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(u, x.suffix) {
			u, mult = strings.TrimSuffix(u, x.suffix), x.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(u), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("-size %q: want a positive size like 500MB", s)
	}
	return n * mult, nil
}
