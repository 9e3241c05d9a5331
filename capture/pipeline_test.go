package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/converter"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpproto"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// exportFile is the daemon's per-file pipeline in miniature, wired as the
// lead wires run: the capture's ResourceAttributes go on the resource, the
// batches go to an OTLP collector, and the exported trace ids are attached
// back to the capture.
func exportFile(t *testing.T, ctrl *Controller, col *otlptest.Collector, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res := append([]span.Attr{span.String("service.name", "vllm")}, ctrl.ResourceSpanAttrs(path)...)
	opts := converter.DefaultOptions()
	opts.Resource = res
	seen := map[string]bool{}
	var traceIDs []string
	// The converter inflates gzip itself (and checks the trailer).
	_, err = converter.Convert(context.Background(), f, opts, func(b *span.Batch) error {
		for i := range b.Spans {
			id := hex.EncodeToString(b.Spans[i].TraceID[:])
			if !seen[id] {
				seen[id] = true
				traceIDs = append(traceIDs, id)
			}
		}
		body, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{otlpproto.ToProto(b)}})
		if err != nil {
			return err
		}
		resp, err := http.Post(col.HTTPURL(), "application/x-protobuf", bytes.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("collector answered %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("convert %s: %v", path, err)
	}
	ctrl.AttachTraceIDs(path, traceIDs)
	return traceIDs
}

// A triggered capture ends with its spans at the OTLP collector, every
// resource carrying vllm.profile.capture_id and vllm.profile.trigger, and
// GET /v1/profile/{id} (Get) listing the exported trace ids.
func TestCaptureSpansReachCollectorWithAttributes(t *testing.T) {
	col, err := otlptest.Start(otlptest.Options{MaxRecvBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	sv := newStandin(t, newFakeClock())
	if raceEnabled {
		// the H100 trace takes ~25 s to convert under -race: use the
		// converter's small vLLM-shaped trace (era E) there
		raw, err := os.ReadFile(filepath.Join("..", "converter", "testdata", "golden", "era_e_full.json"))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(raw)
		_ = zw.Close()
		sv.fixture = b.Bytes()
	}
	h := newHarness(t, sv, func(c *Config, _ *Options) {
		c.Triggers = []Trigger{{Metric: "vllm:e2e_request_latency_seconds", Quantile: 0.99, Above: 10, Window: time.Minute}}
	})
	h.run()
	sv.observe(0.2, 25, 100) // e2e 25 s for 100 requests
	h.advance(h.cfg.PollInterval)
	cp := h.ctrl.List()[0]
	if cp.Trigger != "p99_e2e_request_latency_seconds" || cp.State != StateRunning {
		t.Fatalf("capture %+v", cp)
	}
	h.advance(h.cfg.Duration)
	h.advance(h.cfg.FileGrace)
	cp = h.get(cp.ID)
	if len(cp.Files) != 1 {
		t.Fatalf("files %v", cp.Files)
	}
	ids := exportFile(t, h.ctrl, col, cp.Files[0])
	reqs := col.Requests()
	if len(reqs) == 0 || len(ids) == 0 {
		t.Fatal("nothing reached the collector")
	}
	for _, r := range reqs {
		for _, rs := range r.GetResourceSpans() {
			got := map[string]string{}
			var value float64
			for _, kv := range rs.GetResource().GetAttributes() {
				got[kv.GetKey()] = kv.GetValue().GetStringValue()
				if kv.GetKey() == AttrTriggerValue {
					value = kv.GetValue().GetDoubleValue()
				}
			}
			if got[AttrCaptureID] != cp.ID || got[AttrTrigger] != cp.Reason || got[AttrTriggerName] != cp.Trigger {
				t.Fatalf("resource attributes %v, want capture %s / %q", got, cp.ID, cp.Reason)
			}
			if value <= 20 || value > 30 { // 100 requests of 25 s: p99 in the (20, 30] bucket
				t.Fatalf("trigger value %v on the resource", value)
			}
		}
	}
	final := h.get(cp.ID)
	if final.State != StateExported || len(final.TraceIDs[cp.Files[0]]) != len(ids) {
		t.Fatalf("after export: state %s, %d trace ids (want %d)", final.State, len(final.TraceIDs[cp.Files[0]]), len(ids))
	}
}
