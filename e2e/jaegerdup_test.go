//go:build e2e

package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestJaegerOneFileTwoServicesNoDuplicateIDs sends one trace file under two
// service names (issue 12 item 4): the two exports must not share trace or
// span ids, so Jaeger, which stores every copy it gets, holds no span id
// twice in a trace and warns about no duplicate.
func TestJaegerOneFileTwoServicesNoDuplicateIDs(t *testing.T) {
	_, fx := loadShiftedFixture(t)
	dir := t.TempDir()
	trace := fx.WriteTrace(t, dir)
	var files [2][]Span
	var svcs [2]string
	for i := range svcs {
		svcs[i] = uniqueName(t, "e2e-dup")
		files[i] = convertToFile(t, filepath.Join(dir, svcs[i]+".otlp.jsonl"), "--service-name", svcs[i], trace)
		runBridge(t, 3*time.Minute, "convert", "--endpoint", jaegerAPI.otlpGRPC, "--protocol", "grpc", "--insecure", "--service-name", svcs[i], trace)
	}
	if a, b := spanKeys(files[0]), spanKeys(files[1]); common(a, b) > 0 {
		t.Errorf("one file under services %s and %s: %d of %d trace/span ids the same", svcs[0], svcs[1], common(a, b), len(a))
	}
	for i := range svcs {
		waitForTraces(t, groupTraces(files[i]), svcs[i], time.Minute)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dups := 0
	for i := range svcs {
		for _, id := range traceIDs(groupTraces(files[i])) {
			spans, err := jaegerAPI.Trace(ctx, id)
			if err != nil {
				t.Fatalf("trace %s: %v", id, err)
			}
			seen := map[string]bool{}
			for _, s := range spans {
				if seen[s.SpanID] {
					dups++
				}
				seen[s.SpanID] = true
			}
		}
	}
	if dups > 0 {
		t.Errorf("Jaeger holds %d duplicate span ids in the traces of one file sent as %s and %s", dups, svcs[0], svcs[1])
	}
	var ids []string
	for i := range svcs {
		ids = append(ids, traceIDs(groupTraces(files[i]))...)
	}
	checkJaegerView(t, svcs[0], uniqueStrings(ids))
}

func uniqueStrings(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
