package converter

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// FuzzConvert feeds arbitrary bytes (plain and gzip) to Convert: it must
// never panic, must return one of the typed errors or succeed, and a
// success must produce well-formed trees.
func FuzzConvert(f *testing.F) {
	for _, s := range testkit.Glob(f, "testdata/golden/*.json") {
		f.Add(readFile(f, s))
	}
	small := readFile(f, "testdata/hta/cpu_only--rank-34.Jul_15_10_52_41.1074.pt.trace.json.gz")
	f.Add(small)
	f.Add(small[:len(small)-5])
	f.Add([]byte(`{"traceEvents":[{"ph":"X","cat":"kernel","ts":1,"dur":2,"args":{"correlation":1}},{"ph":"X","cat":"cuda_runtime","ts":0,"dur":1,"args":{"correlation":1}}]}`))
	f.Add([]byte(`{"traceEvents":[{"ph":"X","cat":"user_annotation","name":"execute_new_1_cached_0","ts":0,"dur":5},{"ph":"X","cat":"user_annotation","name":"execute_new_1_cached_0","ts":0,"dur":5}]}`))
	f.Add([]byte(`{"traceEvents":[{"ph":"s","cat":"fwdbwd","id":1,"pid":1,"tid":1,"ts":0},{"ph":"f","cat":"fwdbwd","id":1,"pid":1,"tid":1,"ts":0}]}`))
	f.Add([]byte(`{"traceEvents":[{"ph":"X","ts":NaN,"args":{"a":-inf}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []Options{DefaultOptions(), {MaxSpansPerTrace: 2, PythonSpans: true, BatchSize: 1}} {
			c := &collected{}
			st, err := Convert(context.Background(), bytes.NewReader(data), opts, c.emit)
			if err != nil {
				if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotKineto) {
					t.Fatalf("untyped error: %v", err)
				}
				if len(c.spans) != 0 {
					t.Fatal("spans emitted before an input error")
				}
				continue
			}
			checkTrees(t, c.spans)
			checkBooks(t, st)
			if opts.MaxSpansPerTrace > 0 {
				n := map[span.TraceID]int{}
				for _, s := range c.spans {
					n[s.TraceID]++
					if n[s.TraceID] > opts.MaxSpansPerTrace {
						t.Fatal("cap exceeded")
					}
				}
			}
		}
	})
}
