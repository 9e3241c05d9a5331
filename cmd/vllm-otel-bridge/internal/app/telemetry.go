package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// telemetry serves /metrics, /healthz and /readyz on a local address.
type telemetry struct {
	reg   *prometheus.Registry
	ready atomic.Bool
	// lastErr is shown by /readyz when not ready.
	reason atomic.Value
	srv    *http.Server
	ln     net.Listener
	logger *slog.Logger
	// routes are more handlers on the same address (the profiling
	// control API), added with handle before start.
	routes map[string]http.Handler
}

// handle mounts h at path on the telemetry address; call before start.
func (t *telemetry) handle(path string, h http.Handler) {
	if t.routes == nil {
		t.routes = map[string]http.Handler{}
	}
	t.routes[path] = h
}

func newTelemetry(logger *slog.Logger) *telemetry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	t := &telemetry{reg: reg, logger: logger}
	t.reason.Store("starting")
	return t
}

func (t *telemetry) setReady(ok bool, reason string) {
	t.ready.Store(ok)
	t.reason.Store(reason)
}

func (t *telemetry) handler() http.Handler {
	mux := http.NewServeMux()
	// Exemplars (the step metrics' trace ids) are only in the OpenMetrics
	// format, which a scraper asks for with its Accept header.
	mux.Handle("/metrics", promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{Registry: t.reg, EnableOpenMetrics: true}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !t.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + t.reason.Load().(string) + "\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	for path, h := range t.routes {
		mux.Handle(path, h)
	}
	return mux
}

// start listens on addr (empty: no server).
func (t *telemetry) start(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	t.ln = ln
	t.srv = &http.Server{Handler: t.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := t.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.logger.Error("telemetry server stopped", "err", err)
		}
	}()
	t.logger.Info("serving metrics and health", "addr", ln.Addr().String())
	return nil
}

// addr is the bound address ("" when off).
func (t *telemetry) addr() string {
	if t.ln == nil {
		return ""
	}
	return t.ln.Addr().String()
}

func (t *telemetry) shutdown(ctx context.Context) {
	if t.srv != nil {
		_ = t.srv.Shutdown(ctx)
	}
}
