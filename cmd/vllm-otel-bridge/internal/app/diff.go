package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/profdiff"
)

const diffUsage = `Usage: vllm-otel-bridge diff [flags] BASE NEW

Compares two profiles and names what changed: per step kind, the step wall
time, the GPU busy/idle split, GPU time by class (when the step roots carry
it), CUDA launch time and the top kernels, per step and per token, against
the step-to-step variation of both sides; and the kernels that appeared or
disappeared. BASE and NEW are each a trace file (.pt.trace.json or
.json.gz), a profiler directory (every trace file in it), or a
comma-separated list of trace files.

Flags:
`

func diffCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := profdiff.DefaultOptions()
	var asJSON bool
	var htmlPath, spillDir string
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), diffUsage)
		fs.PrintDefaults()
	}
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON (changes[], per_token[], structural[], summary[]) instead of text")
	fs.StringVar(&htmlPath, "html", "", "also write a self-contained HTML report to this file")
	fs.IntVar(&o.TopKernels, "top-kernels", o.TopKernels, "compare each side's N longest kernels per step kind")
	fs.Float64Var(&o.MinEffect, "min-effect", o.MinEffect, "smallest relative change called significant")
	fs.Float64Var(&o.Alpha, "alpha", o.Alpha, "family-wise error rate of the significance tests")
	fs.StringVar(&spillDir, "spill-dir", "", "directory for the converter's scratch file (default: the system temp directory; off = memory)")
	// Flags may come before, between or after BASE and NEW.
	var sides []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		sides = append(sides, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(sides) != 2 {
		return fmt.Errorf("%w: diff needs BASE and NEW (see diff -h)", errUsage)
	}
	base, next := profdiff.NewComparison()
	for i, c := range []*profdiff.Collector{base, next} {
		paths, err := diffSide(sides[i])
		if err != nil {
			return err
		}
		for _, p := range paths {
			c.AddFile(p)
			if err := diffConvert(ctx, p, spillDir, c); err != nil {
				return err
			}
		}
	}
	rep := profdiff.Compare(base.Finish(), next.Finish(), o)
	if htmlPath != "" {
		if err := writeHTMLReport(htmlPath, rep); err != nil {
			return err
		}
	}
	if asJSON {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteText(stdout)
}

// diffSide lists the trace files of one side: a file, a directory's trace
// files (sorted), or a comma-separated list.
func diffSide(arg string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(arg, ",") {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("diff: %w", err)
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("diff: %w", err)
		}
		var found []string
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() && (strings.HasSuffix(n, ".pt.trace.json") || strings.HasSuffix(n, ".pt.trace.json.gz")) {
				found = append(found, filepath.Join(p, n))
			}
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("diff: %s holds no .pt.trace.json[.gz] file", p)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// diffConvert streams one trace file through the converter (convert's
// options, without the cap of spans per trace, so every kernel counts)
// into c.
func diffConvert(ctx context.Context, path, spillDir string, c *profdiff.Collector) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	defer f.Close()
	opts := converter.DefaultOptions()
	opts.MaxSpansPerTrace = 0
	opts.Scope = bridgeScope("converter")
	sp, err := openSpill(spillDir)
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	if sp != nil {
		defer sp.Close()
		opts.Spill = sp
	}
	if _, err := converter.Convert(ctx, f, opts, c.Add); err != nil {
		return fmt.Errorf("diff: %s: %w", path, err)
	}
	return nil
}

func writeHTMLReport(path string, rep *profdiff.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("diff: --html: %w", err)
	}
	if err := rep.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("diff: --html: %w", err)
	}
	return nil
}
