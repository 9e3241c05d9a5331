//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConvertToJaeger converts the bundled H100 trace twice, once to an
// OTLP/JSON file and once to Jaeger (over gRPC and over HTTP), and checks
// that Jaeger holds exactly the spans of the file, with the step-trace shape
// the design promises.
func TestConvertToJaeger(t *testing.T) {
	tr := loadTruth(t)
	for _, proto := range []string{"grpc", "http"} {
		t.Run(proto, func(t *testing.T) {
			fx := newShiftedFixture(t, tr)
			dir := t.TempDir()
			trace := fx.WriteTrace(t, dir)
			svc := uniqueName(t, "e2e-convert-"+proto)

			out := filepath.Join(dir, "spans.otlp.jsonl")
			spans := convertToFile(t, out, "--service-name", svc, trace)
			want := groupTraces(spans)
			if n := spanCount(want); n != len(spans) {
				t.Errorf("-o output repeats span ids: %d spans, %d distinct", len(spans), n)
			}
			t.Logf("-o wrote %d spans in %d traces", len(spans), len(want))
			checkStepTraces(t, want, tr, fx.Delta, svc)

			endpoint := jaegerAPI.otlpGRPC
			if proto == "http" {
				endpoint = "http://" + jaegerAPI.otlpHTTP + "/v1/traces"
			}
			sent := time.Now()
			runBridge(t, 3*time.Minute, "convert", "--endpoint", endpoint, "--protocol", proto, "--insecure", "--service-name", svc, trace)
			got := waitForTraces(t, want, svc, time.Minute)
			t.Logf("all %d traces queryable in Jaeger %v after convert started", len(want), time.Since(sent).Round(time.Millisecond))
			for _, id := range traceIDs(want) {
				compareSpans(t, "Jaeger", want[id], got[id])
			}
			checkStepTraces(t, got, tr, fx.Delta, svc)
		})
	}
}

// rootName names a trace by its root span (and gen_ai.request.id if any).
func rootName(t *Trace) string {
	r := t.Roots()
	if len(r) == 0 {
		return "no root"
	}
	if id, ok := r[0].Attrs["gen_ai.request.id"].(string); ok {
		return r[0].Name + " " + id
	}
	return r[0].Name
}

func spanCount(traces map[string]*Trace) int {
	n := 0
	for _, t := range traces {
		n += len(t.Spans)
	}
	return n
}

// waitForTraces polls Jaeger until every trace of want holds as many spans of
// service as want does (of any service where service is ""), and returns
// those traces.
func waitForTraces(t *testing.T, want map[string]*Trace, service string, timeout time.Duration) map[string]*Trace {
	t.Helper()
	got := map[string]*Trace{}
	poll(t, timeout, "traces in Jaeger", func(ctx context.Context) (bool, string, error) {
		pending := 0
		var detail []string
		for _, id := range traceIDs(want) {
			w := want[id]
			if g := got[id]; g != nil && len(g.Spans) >= len(w.Spans) {
				continue
			}
			spans, err := jaegerAPI.Trace(ctx, id)
			if err != nil && err != errNotFound {
				return false, "", err
			}
			if service != "" {
				spans = onlyService(spans, service)
			}
			g := groupTraces(spans)[id]
			if g != nil {
				got[id] = g
			}
			if g == nil || len(g.Spans) < len(w.Spans) {
				pending++
				if len(detail) < 3 {
					n := 0
					if g != nil {
						n = len(g.Spans)
					}
					detail = append(detail, fmt.Sprintf("%s (%s): %d of %d spans", id, rootName(w), n, len(w.Spans)))
				}
			}
		}
		return pending == 0, fmt.Sprintf("%d of %d traces incomplete, e.g. %s", pending, len(want), strings.Join(detail, "; ")), nil
	})
	return got
}
