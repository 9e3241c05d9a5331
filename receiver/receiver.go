package receiver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
)

// Consumer takes over received spans. The receiver acknowledges a request to
// its sender only after ConsumeTraces returned nil for it, so an
// implementation returns nil only once the data is safely on its way (for
// the bridge: handed to the exporter, which never drops silently). A
// non-nil error makes the sender retry, unless it wraps a *PermanentError.
//
// ConsumeTraces is called concurrently, once per request with at least one
// ResourceSpans. rs is exactly what the sender sent; the Consumer owns it
// after the call and the receiver never touches it again. ctx ends when the
// sender gives up or the receiver is shut down forcibly.
type Consumer interface {
	ConsumeTraces(ctx context.Context, rs []*tracepb.ResourceSpans) error
}

// ConsumerFunc adapts a function to Consumer.
type ConsumerFunc func(ctx context.Context, rs []*tracepb.ResourceSpans) error

// ConsumeTraces calls f.
func (f ConsumerFunc) ConsumeTraces(ctx context.Context, rs []*tracepb.ResourceSpans) error {
	return f(ctx, rs)
}

// Stats are the receiver's counters since New. Refusals are counted per
// request.
type Stats struct {
	// Requests, Spans and Bytes count what was acknowledged: requests whose
	// Consumer call returned nil (or that held no data), the spans in them,
	// and their uncompressed body bytes.
	Requests, Spans, Bytes int64
	// RefusedOverload counts requests refused because MaxPendingBytes was
	// reached (answered as retryable).
	RefusedOverload int64
	// RefusedTooLarge counts requests over MaxRecvMessageBytes.
	RefusedTooLarge int64
	// Malformed counts requests refused as undecodable or invalid, and HTTP
	// requests with a wrong method, content type or encoding.
	Malformed int64
	// ConsumerErrors counts requests whose Consumer call failed.
	ConsumerErrors int64
	// PendingBytes is the uncompressed body bytes held right now;
	// PeakPendingBytes the most ever held at once. PeakPendingBytes never
	// exceeds Config.MaxPendingBytes.
	PendingBytes, PeakPendingBytes int64
}

// Errors returns the number of requests answered with an error for any
// reason other than overload.
func (s Stats) Errors() int64 { return s.RefusedTooLarge + s.Malformed + s.ConsumerErrors }

type counters struct {
	requests, spans, bytes                        atomic.Int64
	overload, tooLarge, malformed, consumerErrors atomic.Int64
}

// BoundAddrs are the addresses a started Receiver listens on; empty when a
// listener is off or not started.
type BoundAddrs struct {
	GRPC, HTTP string
}

// Receiver is an OTLP trace receiver. Build it with New, then Start it;
// Shutdown stops it. Its methods are safe for concurrent use.
type Receiver struct {
	cfg      Config
	consumer Consumer
	log      *slog.Logger
	tls      *tls.Config
	pending  *limiter
	stats    counters
	// protoCodec is gRPC's own protobuf codec, used for everything but
	// the Export request.
	protoCodec encoding.CodecV2

	// base is the parent of every HTTP request's context; cancelled when a
	// Shutdown runs out of time.
	base       context.Context
	cancelBase context.CancelFunc

	mu       sync.Mutex
	state    int // stateNew, stateStarted, stateClosed
	grpcSrv  *grpc.Server
	httpSrv  *http.Server
	addrs    BoundAddrs
	serving  sync.WaitGroup
	shutdown chan struct{} // closed when Shutdown has finished
}

const (
	stateNew = iota
	stateStarted
	stateClosed
)

// HTTP server timeouts. ReadTimeout also bounds how long a slow sender can
// hold pending bytes while trickling its body in.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	idleTimeout       = 2 * time.Minute
)

// New checks cfg, loads its TLS files and returns a Receiver that is not yet
// listening. consumer must not be nil; logger may be nil (no logs).
func New(cfg Config, consumer Consumer, logger *slog.Logger) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, &ConfigError{Component: "receiver", Key: "grpc_addr", Reason: "both grpc_addr and http_addr are empty: nothing to listen on"}
	}
	if consumer == nil {
		return nil, errors.New("receiver: New: nil Consumer")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{
		cfg:      cfg,
		consumer: consumer,
		log:      logger,
		pending:  newLimiter(int64(cfg.MaxPendingBytes)),
		shutdown: make(chan struct{}),
	}
	if !cfg.TLS.IsZero() {
		t, err := cfg.TLS.Server()
		if err != nil {
			return nil, fmt.Errorf("receiver: tls: %w", err)
		}
		r.tls = t
	}
	if r.protoCodec = encoding.GetCodecV2(grpcproto.Name); r.protoCodec == nil {
		return nil, errors.New("receiver: gRPC's protobuf codec is not registered")
	}
	r.base, r.cancelBase = context.WithCancel(context.Background())
	return r, nil
}

// Start binds the configured listeners and serves them in the background. It
// returns once both are bound (or with the first bind error, leaving nothing
// bound). ctx bounds only the binding; use Shutdown to stop.
func (r *Receiver) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.state {
	case stateStarted:
		return ErrStarted
	case stateClosed:
		return ErrClosed
	}
	var lc net.ListenConfig
	var grpcLn, httpLn net.Listener
	if r.cfg.GRPCAddr != "" {
		ln, err := lc.Listen(ctx, "tcp", r.cfg.GRPCAddr)
		if err != nil {
			return fmt.Errorf("receiver: listen grpc %s: %w", r.cfg.GRPCAddr, err)
		}
		grpcLn = ln
	}
	if r.cfg.HTTPAddr != "" {
		ln, err := lc.Listen(ctx, "tcp", r.cfg.HTTPAddr)
		if err != nil {
			if grpcLn != nil {
				_ = grpcLn.Close()
			}
			return fmt.Errorf("receiver: listen http %s: %w", r.cfg.HTTPAddr, err)
		}
		httpLn = ln
	}
	r.state = stateStarted
	if grpcLn != nil {
		r.grpcSrv = r.newGRPCServer()
		r.addrs.GRPC = grpcLn.Addr().String()
		r.serve("grpc", r.addrs.GRPC, func() error { return r.grpcSrv.Serve(grpcLn) })
	}
	if httpLn != nil {
		r.httpSrv = r.newHTTPServer()
		r.addrs.HTTP = httpLn.Addr().String()
		srv := r.httpSrv
		if r.tls != nil {
			r.serve("http", r.addrs.HTTP, func() error { return srv.ServeTLS(httpLn, "", "") })
		} else {
			r.serve("http", r.addrs.HTTP, func() error { return srv.Serve(httpLn) })
		}
	}
	return nil
}

// serve runs fn in the background, logging how it ended.
func (r *Receiver) serve(transport, addr string, fn func() error) {
	secure := r.tls != nil
	if !secure && !isLoopback(addr) {
		r.log.Warn("OTLP receiver listens beyond loopback without TLS: anyone who can reach it can inject spans", "transport", transport, "addr", addr)
	}
	r.log.Info("OTLP receiver listening", "transport", transport, "addr", addr, "tls", secure, "mtls", r.tls != nil && r.tls.ClientCAs != nil)
	r.serving.Go(func() {
		err := fn()
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			r.log.Error("OTLP receiver stopped serving", "transport", transport, "addr", addr, "err", err)
		}
	})
}

// Addrs returns the addresses the listeners are bound to (useful with port
// 0); empty strings before Start and for listeners that are off.
func (r *Receiver) Addrs() BoundAddrs {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addrs
}

// Stats returns a snapshot of the counters.
func (r *Receiver) Stats() Stats {
	return Stats{
		Requests:         r.stats.requests.Load(),
		Spans:            r.stats.spans.Load(),
		Bytes:            r.stats.bytes.Load(),
		RefusedOverload:  r.stats.overload.Load(),
		RefusedTooLarge:  r.stats.tooLarge.Load(),
		Malformed:        r.stats.malformed.Load(),
		ConsumerErrors:   r.stats.consumerErrors.Load(),
		PendingBytes:     r.pending.cur.Load(),
		PeakPendingBytes: r.pending.peak.Load(),
	}
}

// Shutdown stops accepting requests and waits for those in flight to be
// answered. When ctx ends first, it closes every connection, cancels the
// contexts of Consumer calls still running, and returns an error wrapping
// ctx.Err(). Shutdown before Start, or a second Shutdown, returns nil (the
// second waits for the first to finish).
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	switch r.state {
	case stateNew:
		r.state = stateClosed
		r.mu.Unlock()
		r.cancelBase()
		close(r.shutdown)
		return nil
	case stateClosed:
		r.mu.Unlock()
		select {
		case <-r.shutdown:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("receiver: shutdown: %w", ctx.Err())
		}
	}
	r.state = stateClosed
	grpcSrv, httpSrv := r.grpcSrv, r.httpSrv
	r.mu.Unlock()
	defer close(r.shutdown)
	defer r.cancelBase()

	var forced atomic.Bool
	var wg sync.WaitGroup
	if grpcSrv != nil {
		wg.Go(func() {
			done := make(chan struct{})
			go func() { grpcSrv.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				forced.Store(true)
				grpcSrv.Stop()
				<-done
			}
		})
	}
	if httpSrv != nil {
		wg.Go(func() {
			if err := httpSrv.Shutdown(ctx); err != nil {
				forced.Store(true)
				r.cancelBase()
				_ = httpSrv.Close()
			}
		})
	}
	wg.Wait()
	r.serving.Wait()
	if forced.Load() {
		return fmt.Errorf("receiver: shutdown forced, requests in flight were cut off: %w", context.Cause(ctx))
	}
	return nil
}

// consume hands one decoded request to the Consumer and counts the outcome.
// size is the request's uncompressed body size.
func (r *Receiver) consume(ctx context.Context, rs []*tracepb.ResourceSpans, size int64) error {
	spans := countSpans(rs)
	if len(rs) > 0 {
		if err := r.consumer.ConsumeTraces(ctx, rs); err != nil {
			r.stats.consumerErrors.Add(1)
			r.log.Warn("OTLP receiver: consumer failed; request refused", "spans", spans, "bytes", size, "sender_may_retry", !isPermanent(err), "err", err)
			return err
		}
	}
	r.stats.requests.Add(1)
	r.stats.spans.Add(int64(spans))
	r.stats.bytes.Add(size)
	return nil
}

func countSpans(rs []*tracepb.ResourceSpans) int {
	n := 0
	for _, r := range rs {
		for _, s := range r.GetScopeSpans() {
			n += len(s.GetSpans())
		}
	}
	return n
}
