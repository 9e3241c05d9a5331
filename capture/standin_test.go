package capture

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixtureTrace is a real vLLM 0.17 H100 trace (the converter's fixture).
var fixtureTrace = filepath.Join("..", "testdata", "h100", "dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz")

// vLLM's default histogram buckets for TTFT and e2e latency (seconds), as
// in vllm/v1/metrics/loggers.py.
var (
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	e2eBuckets  = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
)

// standin behaves like vLLM's API server with --profiler-config
// (profiler=torch) for the endpoints the bridge uses: POST /start_profile
// and /stop_profile (guarded by --api-key like vLLM's
// AuthenticationMiddleware; a stop when not active is ignored; a start
// while active is ignored; on stop the rank's trace is written into the
// profiler directory in chunks before the answer) and GET /metrics
// (public, prometheus_client's text format with real histogram lines).
type standin struct {
	t   testing.TB
	clk interface{ Now() time.Time }
	dir string

	mu          sync.Mutex
	addr        string
	srv         *http.Server
	apiKey      string
	noProfiler  bool
	failStart   int           // answer this many starts with 500
	failStop    int           // answer this many stops with 500
	stopDelay   time.Duration // slow stop answers (real time)
	active      bool
	running     bool
	calls       []string // "start", "stop", "start(401)", …
	ttft, e2e   *histo
	writes      int // trace files written
	chunk       int
	chunkPause  time.Duration
	onStart     chan struct{}
	startSeenAt time.Time
	fixture     []byte // gzipped trace written on stop; default fixtureTrace
}

type histo struct {
	bounds []float64
	counts []float64 // non-cumulative, len(bounds)+1
	sum    float64
}

func newHisto(b []float64) *histo { return &histo{bounds: b, counts: make([]float64, len(b)+1)} }

func (h *histo) observe(v float64, n int) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i] += float64(n)
	h.sum += v * float64(n)
}

func newStandin(t testing.TB, clk interface{ Now() time.Time }) *standin {
	t.Helper()
	s := &standin{t: t, clk: clk, dir: t.TempDir(), ttft: newHisto(ttftBuckets), e2e: newHisto(e2eBuckets),
		chunk: 256 << 10, chunkPause: time.Millisecond, onStart: make(chan struct{}, 16)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.close)
	return s
}

func (s *standin) URL() string { return "http://" + s.addr }

func (s *standin) serve(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /start_profile", s.startProfile)
	mux.HandleFunc("POST /stop_profile", s.stopProfile)
	mux.HandleFunc("GET /metrics", s.metrics)
	srv := &http.Server{Handler: mux}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (s *standin) close() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}

// down stops the server: connections are refused until up.
func (s *standin) down() { s.close() }

// up restarts it on the same address as a fresh vLLM process: the
// profiler is off and every counter starts from zero.
func (s *standin) up() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was just released
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("standin: relisten %s: %v", s.addr, err)
	}
	s.mu.Lock()
	s.active, s.running = false, false
	s.ttft, s.e2e = newHisto(ttftBuckets), newHisto(e2eBuckets)
	s.mu.Unlock()
	s.serve(ln)
}

func (s *standin) authorized(w http.ResponseWriter, r *http.Request, op string) bool {
	if s.apiKey == "" || r.Header.Get("Authorization") == "Bearer "+s.apiKey {
		return true
	}
	s.calls = append(s.calls, op+"(401)")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":"Unauthorized"}`))
	return false
}

func (s *standin) startProfile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorized(w, r, "start") {
		return
	}
	if s.noProfiler {
		s.calls = append(s.calls, "start(404)")
		http.Error(w, `{"detail":"Not Found"}`, http.StatusNotFound)
		return
	}
	if s.failStart > 0 {
		s.failStart--
		s.calls = append(s.calls, "start(500)")
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	s.calls = append(s.calls, "start")
	if !s.active { // vLLM ignores a start while active
		s.active, s.running = true, true
	}
	s.startSeenAt = s.clk.Now()
	select {
	case s.onStart <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

func (s *standin) stopProfile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if !s.authorized(w, r, "stop") {
		s.mu.Unlock()
		return
	}
	if s.noProfiler {
		s.calls = append(s.calls, "stop(404)")
		s.mu.Unlock()
		http.Error(w, `{"detail":"Not Found"}`, http.StatusNotFound)
		return
	}
	if s.failStop > 0 {
		s.failStop--
		s.calls = append(s.calls, "stop(500)")
		s.mu.Unlock()
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	s.calls = append(s.calls, "stop")
	write := s.active && s.running
	s.active, s.running = false, false
	delay := s.stopDelay
	s.mu.Unlock()
	if write {
		if err := s.writeTrace(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if delay > 0 {
		time.Sleep(delay) // a slow answer, not synchronisation
	}
	w.WriteHeader(http.StatusOK)
}

// selfStop is vLLM reaching max_iterations: the profiler stops and writes
// its trace but stays active until /stop_profile.
func (s *standin) selfStop() {
	s.t.Helper()
	s.mu.Lock()
	write := s.active && s.running
	s.running = false
	s.mu.Unlock()
	if !write {
		s.t.Fatal("standin: selfStop while not running")
	}
	if err := s.writeTrace(); err != nil {
		s.t.Fatal(err)
	}
}

// writeTrace copies the fixture into the profiler directory under the name
// PyTorch gives it, growing in place in chunks like gzip.open("wt").
func (s *standin) writeTrace() error {
	s.mu.Lock()
	data := s.fixture
	s.mu.Unlock()
	if data == nil {
		var err error
		if data, err = os.ReadFile(fixtureTrace); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.writes++
	n := s.writes
	chunk, pause := s.chunk, s.chunkPause
	s.mu.Unlock()
	name := fmt.Sprintf("dp0_pp0_tp0_dcp0_ep0_rank0.%d.pt.trace.json.gz", s.clk.Now().UnixNano()+int64(n))
	f, err := os.Create(filepath.Join(s.dir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		if _, err := f.Write(data[off:end]); err != nil {
			return err
		}
		time.Sleep(pause)
	}
	return f.Close()
}

func (s *standin) callList() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *standin) profiling() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// observe records n requests of this TTFT and e2e latency.
func (s *standin) observe(ttft, e2e float64, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttft.observe(ttft, n)
	s.e2e.observe(e2e, n)
}

func (s *standin) set(f func(*standin)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// metrics writes what prometheus_client's generate_latest writes for vLLM.
func (s *standin) metrics(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	b.WriteString("# HELP python_gc_objects_collected_total Objects collected during gc\n# TYPE python_gc_objects_collected_total counter\n")
	b.WriteString("python_gc_objects_collected_total{generation=\"0\"} 12345.0\n")
	b.WriteString("# HELP vllm:num_requests_running Number of requests in model execution batches.\n# TYPE vllm:num_requests_running gauge\n")
	b.WriteString("vllm:num_requests_running{engine=\"0\",model_name=\"meta-llama/Llama-3.1-8B-Instruct\"} 3.0\n")
	writeHisto(&b, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", s.ttft)
	writeHisto(&b, "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", s.e2e)
	_, _ = w.Write([]byte(b.String()))
}

func writeHisto(b *strings.Builder, name, help string, h *histo) {
	labels := `engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"`
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	cum := 0.0
	for i, le := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(b, "%s_bucket{%s,le=\"%s\"} %s\n", name, labels, pyFloat(le), pyFloat(cum))
	}
	cum += h.counts[len(h.bounds)]
	fmt.Fprintf(b, "%s_bucket{%s,le=\"+Inf\"} %s\n", name, labels, pyFloat(cum))
	fmt.Fprintf(b, "%s_count{%s} %s\n", name, labels, pyFloat(cum))
	fmt.Fprintf(b, "%s_sum{%s} %s\n", name, labels, pyFloat(h.sum))
	fmt.Fprintf(b, "# HELP %s_created %s\n# TYPE %s_created gauge\n", name, help, name)
	fmt.Fprintf(b, "%s_created{%s} 1.7650829e+09\n", name, labels)
}

// pyFloat formats like Python's repr of a float ("1.0", "0.25").
func pyFloat(v float64) string {
	s := fmt.Sprintf("%g", v)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// decodeJSON decodes a response body.
func decodeJSON(t testing.TB, r *http.Response, v any) {
	t.Helper()
	defer r.Body.Close()
	if err := json.NewDecoder(r.Body).Decode(v); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("decode %s: %v", r.Request.URL, err)
	}
}
