// Command discard converts trace files into OTLP protobuf and throws the
// requests away: converter.Convert feeding an exporter.Exporter over an
// exporter.DiscardClient (encoding, size cutting and the send machinery,
// no transport). It is the "discarding sink" of bench/run.sh, so the
// converter's own cost can be told apart from a transport's or a file
// writer's.
//
// Usage:
//
//	discard [-spill] [-cpuprofile FILE] [-memprofile FILE] TRACE...
//
// With -spill, the converter's args arena goes to a temporary file
// (converter.Options.Spill), removed at the end.
//
// For each file it prints one line: events, spans, requests, encoded MB,
// wall seconds and MB/s of JSON. It never writes anything but the
// profiles asked for.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/exporter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "discard:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("discard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile to this file at the end")
	spill := fs.Bool("spill", false, "spill the args arena to a temporary file (converter.Options.Spill)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("need at least one trace file")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	client := &exporter.DiscardClient{}
	exp := exporter.New(client, exporter.DefaultConfig(), nil)
	if err := exp.Start(ctx); err != nil {
		return err
	}
	defer exp.Shutdown(context.Background())
	for _, path := range fs.Args() {
		if err := convertOne(ctx, path, *spill, exp, client, stdout); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	return nil
}

func convertOne(ctx context.Context, path string, spill bool, exp *exporter.Exporter, client *exporter.DiscardClient, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	opts := converter.DefaultOptions()
	if spill {
		sf, err := os.CreateTemp("", "discard-spill-*")
		if err != nil {
			return err
		}
		defer os.Remove(sf.Name())
		defer sf.Close()
		opts.Spill = sf
	}
	start := time.Now()
	r0, _, b0 := client.Counts()
	tr := exp.NewTracker()
	opts.Resource = []span.Attr{span.String("service.name", "vllm"), span.String("vllm.trace.file", path)}
	st, err := converter.Convert(ctx, f, opts, func(b *span.Batch) error { return exp.Export(ctx, b, tr) })
	if err != nil {
		tr.Close()
		return err
	}
	if err := tr.Wait(ctx); err != nil {
		return err
	}
	wall := time.Since(start)
	r1, _, b1 := client.Counts()
	fmt.Fprintf(stdout, "%s: %d events, %d spans, %d requests, %.1f MB encoded, %.1f MB to the scratch file, %.3f s, %.0f MB/s of JSON\n",
		path, st.Events, st.SpansEmitted, r1-r0, float64(b1-b0)/1e6, float64(st.SpillBytes)/1e6, wall.Seconds(), float64(st.JSONBytes)/1e6/wall.Seconds())
	return nil
}
