package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/convtest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestRunOnDemandCapture drives the daemon's profiling control end to end:
// POST /v1/profile on the bridge's address starts vLLM's profiler (a
// stand-in with vLLM's endpoints), the capture's end stops it, the
// stand-in writes a real trace into the profiler directory as vLLM does on
// stop, and every span of it reaches the collector with the capture's
// resource attributes; GET /v1/profile/{id} then lists its trace ids.
func TestRunOnDemandCapture(t *testing.T) {
	want := convtest.SpanIDs(t, smallTrace)
	c := startCollector(t)
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")

	var name string
	var mu sync.Mutex
	var calls []string
	vllm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/start_profile":
		case "/stop_profile":
			// vLLM writes the trace when the profiler stops, named by the
			// time of its export (Unix ns).
			mu.Lock()
			name = fmt.Sprintf("dp0_pp0_tp0_dcp0_ep0_rank0.%d.pt.trace.json.gz", time.Now().UnixNano())
			mu.Unlock()
			writeInChunks(t, smallTrace, filepath.Join(dir, name), nil)
		case "/metrics":
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		default:
			http.NotFound(w, r)
		}
	}))
	defer vllm.Close()

	addr := testkit.FreeAddr(t)
	d := startDaemon(t, daemonArgs(dir, state, c, "--vllm-url", vllm.URL, "--metrics-addr", addr))
	testkit.WaitFor(t, "the bridge's HTTP address", 10*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})

	resp, err := http.Post("http://"+addr+"/v1/profile", "application/json", strings.NewReader(`{"duration":"1s"}`))
	if err != nil {
		t.Fatal(err)
	}
	var cp struct {
		ID       string              `json:"id"`
		State    string              `json:"state"`
		TraceIDs map[string][]string `json:"trace_ids"`
	}
	err = json.NewDecoder(resp.Body).Decode(&cp)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted || cp.ID == "" {
		t.Fatalf("POST /v1/profile: %d, %+v, %v", resp.StatusCode, cp, err)
	}

	testkit.WaitFor(t, "every span of the captured trace", 60*time.Second, func() bool { _, n := c.SpanIDs(); return n >= len(want) })
	roots := 0
	for _, req := range c.Requests() {
		for _, rs := range req.ResourceSpans {
			attrs := map[string]string{}
			for _, kv := range rs.GetResource().GetAttributes() {
				attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			if attrs["vllm.trace.file"] == "" {
				// request-side spans, and the step roots (whose resource
				// is what every rank shares)
				for _, ss := range rs.ScopeSpans {
					for _, s := range ss.Spans {
						if len(s.ParentSpanId) == 0 && strings.HasPrefix(s.Name, "vllm.step.") {
							roots++
						}
					}
				}
				continue
			}
			if attrs["vllm.profile.capture_id"] != cp.ID || attrs["vllm.profile.trigger"] != "on_demand" {
				t.Fatalf("trace spans without the capture's attributes: %v", attrs)
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					if len(s.ParentSpanId) == 0 {
						roots++
					}
				}
			}
		}
	}
	testkit.WaitFor(t, "the capture's trace ids", 30*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/v1/profile/" + cp.ID)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&cp) != nil {
			return false
		}
		n := 0
		for _, ids := range cp.TraceIDs {
			n += len(ids)
		}
		return n == roots && roots > 0
	})
	d.stop(t)
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(calls, ","); !strings.Contains(got, "POST /start_profile") || !strings.Contains(got, "POST /stop_profile") {
		t.Fatalf("vLLM saw %s, want a start and a stop", got)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}
