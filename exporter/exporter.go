package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpproto"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/span"
)

// Stats are the exporter's counters since New, for metrics.
type Stats struct {
	SpansExported    int64 // spans in acknowledged requests (rejected ones included)
	RequestsExported int64 // acknowledged requests
	BytesExported    int64 // encoded bytes of acknowledged requests
	Retries          int64 // attempts after the first
	Errors           int64 // requests that failed for good
	SpansFailed      int64 // spans in those requests
	RejectedSpans    int64 // spans the backend rejected in partial successes
	OversizeSpans    int64 // spans larger than MaxRequestBytes, sent alone
	InFlight         int64 // requests being sent now
	Queued           int64 // complete requests waiting for a sender
}

type stats struct {
	spans, requests, bytes, retries, errors, spansFailed, rejected, oversize, inFlight atomic.Int64
}

// request is one outgoing OTLP request.
type request struct {
	body     []byte
	spans    int
	trackers []trackerSpans
	decoded  []*tracepb.ResourceSpans // for clients without RequestUploader
}

// trackerSpans counts one tracker's spans in a request.
type trackerSpans struct {
	t     *Tracker
	spans int
}

// addSpans records n more spans of t in r.
func (r *request) addSpans(t *Tracker, n int) {
	if t == nil || n == 0 {
		return
	}
	for i := range r.trackers {
		if r.trackers[i].t == t {
			r.trackers[i].spans += n
			return
		}
	}
	t.hold()
	r.trackers = append(r.trackers, trackerSpans{t, n})
}

// Exporter encodes span batches into size-bounded OTLP requests and sends
// them through a Client with bounded concurrency and retries. It never
// drops a span silently: every span either reaches the backend or fails
// the Tracker it was exported with.
type Exporter struct {
	client Client
	raw    RequestUploader // client's fast path, if any
	cfg    Config
	log    *slog.Logger

	// lock guards the fields below it. It is a channel so that waiting for
	// it honours a context.
	lock     chan struct{}
	bld      otlpproto.Builder
	hdr      otlpproto.Header
	scratch  []byte
	cur      *request
	curSince time.Time
	closed   bool // Shutdown began; queue is closed

	queue     chan *request
	free      chan []byte
	workers   sync.WaitGroup
	runCtx    context.Context
	cancelRun context.CancelCauseFunc
	stopTick  chan struct{}
	tickDone  chan struct{}
	started   atomic.Bool
	shutdown  atomic.Bool
	stats     stats
}

// serialClient is a Client whose uploads run one at a time anyway (the
// file client). The Exporter gives it a single sender: more would only hold
// more request buffers waiting on its lock, and one writes the requests in
// the order they were cut, so the same spans give the same file.
type serialClient interface{ serial() }

// New returns an Exporter sending through client. Zero fields of cfg
// (except QueueSize) take their defaults; if cfg is still invalid (see Config.Validate, which
// callers should run first to report the bad key) New logs a warning and
// uses DefaultConfig. A nil logger discards logs. Call Start before
// exporting and Shutdown at the end.
func New(client Client, cfg Config, logger *slog.Logger) *Exporter {
	def := DefaultConfig()
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = def.MaxRequestBytes
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = def.MaxInFlight
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = def.FlushInterval
	}
	if cfg.Retry.InitialInterval == 0 {
		cfg.Retry.InitialInterval = def.Retry.InitialInterval
	}
	if cfg.Retry.MaxInterval == 0 {
		cfg.Retry.MaxInterval = max(def.Retry.MaxInterval, cfg.Retry.InitialInterval)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		// A bad setting earns a warning and the defaults, not a crash.
		logger.Warn("invalid exporter configuration; using the defaults", "error", err)
		cfg = def
	}
	if _, ok := client.(serialClient); ok {
		cfg.MaxInFlight = 1
	}
	e := &Exporter{
		client:   client,
		cfg:      cfg,
		log:      logger,
		lock:     make(chan struct{}, 1),
		cur:      &request{},
		queue:    make(chan *request, cfg.QueueSize),
		free:     make(chan []byte, cfg.MaxInFlight+cfg.QueueSize+1),
		stopTick: make(chan struct{}),
		tickDone: make(chan struct{}),
	}
	e.raw, _ = client.(RequestUploader)
	e.runCtx, e.cancelRun = context.WithCancelCause(context.Background())
	return e
}

// Config returns the effective configuration.
func (e *Exporter) Config() Config { return e.cfg }

// Start starts the client and the senders.
func (e *Exporter) Start(ctx context.Context) error {
	if e.shutdown.Load() {
		return ErrShutdown
	}
	if !e.started.CompareAndSwap(false, true) {
		return nil
	}
	if err := e.client.Start(ctx); err != nil {
		e.started.Store(false)
		return fmt.Errorf("exporter: starting client: %w", err)
	}
	for range e.cfg.MaxInFlight {
		e.workers.Add(1)
		go e.worker()
	}
	go e.ticker()
	return nil
}

func (e *Exporter) acquire(ctx context.Context) error {
	select {
	case e.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("exporter: waiting to encode: %w", context.Cause(ctx))
	}
}

func (e *Exporter) release() { <-e.lock }

func (e *Exporter) enter(ctx context.Context, t *Tracker) error {
	if t != nil && t.e != e {
		return errors.New("exporter: tracker belongs to another exporter")
	}
	if !e.started.Load() {
		t.fail(ErrNotStarted)
		return ErrNotStarted
	}
	if err := e.acquire(ctx); err != nil {
		t.fail(err)
		return err
	}
	if e.closed {
		e.release()
		t.fail(ErrShutdown)
		return ErrShutdown
	}
	if t != nil && t.isClosed() {
		e.release()
		return ErrTrackerClosed
	}
	if e.bld.Spans() == 0 {
		e.curSince = time.Now()
	}
	return nil
}

// Export encodes b's spans into outgoing requests and returns once they are
// encoded (b's memory may be reused then), blocking while MaxInFlight
// requests are being sent and QueueSize more are waiting. The spans are
// acknowledged through t (which may be nil). Any error (ErrNotStarted,
// ErrShutdown, ctx ending) also fails t, so t.Wait never reports success
// for a unit whose spans were not all taken; the exceptions are
// ErrTrackerClosed and a tracker of another Exporter, which leave t alone.
// After an error part-way, some of b's spans may have been queued.
func (e *Exporter) Export(ctx context.Context, b *span.Batch, t *Tracker) error {
	if err := e.enter(ctx, t); err != nil {
		return err
	}
	defer e.release()
	e.hdr.SetBatch(b.Resource, b.Scope)
	e.bld.Open(&e.hdr)
	added := 0
	for i := range b.Spans {
		s := &b.Spans[i]
		n := otlpproto.SpanSize(s)
		if err := e.room(ctx, otlpproto.EntrySize(n), t, &added); err != nil {
			return err
		}
		e.bld.AddSpan(s, n)
		added++
	}
	e.cur.addSpans(t, added)
	return nil
}

// room makes room in the open request for an entry of entryLen bytes,
// cutting and queueing the request if needed. Called with the lock held.
// *added counts t's spans in the open request; it is handed over to the
// request when it is cut.
func (e *Exporter) room(ctx context.Context, entryLen int, t *Tracker, added *int) error {
	if e.bld.Spans() > 0 && e.bld.SizeWith(entryLen) > int(e.cfg.MaxRequestBytes) {
		e.cur.addSpans(t, *added)
		*added = 0
		if err := e.cut(ctx, true); err != nil {
			t.fail(err)
			return err
		}
	}
	if e.bld.Spans() == 0 {
		e.curSince = time.Now()
		if size := e.bld.SizeWith(entryLen); size > int(e.cfg.MaxRequestBytes) {
			e.stats.oversize.Add(1)
			e.log.Warn("span larger than max_request_bytes; sending it alone, the backend may refuse it",
				"bytes", size, "max_request_bytes", e.cfg.MaxRequestBytes)
		}
	}
	return nil
}

// ExportRaw is Export for spans forwarded unchanged (for example vLLM's own
// llm_request spans). Every field is kept; each ScopeSpans becomes its own
// ResourceSpans entry (same resource) in the outgoing requests.
func (e *Exporter) ExportRaw(ctx context.Context, rss []*tracepb.ResourceSpans, t *Tracker) error {
	if err := e.enter(ctx, t); err != nil {
		return err
	}
	defer e.release()
	added := 0
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			if err := e.hdr.SetProto(rs.GetResource(), ss.GetScope(), rs.GetSchemaUrl(), ss.GetSchemaUrl()); err != nil {
				err = fmt.Errorf("exporter: encoding forwarded resource: %w", err)
				t.fail(err)
				return err
			}
			e.bld.Open(&e.hdr)
			for _, s := range ss.GetSpans() {
				var err error
				if e.scratch, err = (proto.MarshalOptions{}).MarshalAppend(e.scratch[:0], s); err != nil {
					err = fmt.Errorf("exporter: encoding forwarded span: %w", err)
					t.fail(err)
					return err
				}
				if err := e.room(ctx, otlpproto.EntrySize(len(e.scratch)), t, &added); err != nil {
					return err
				}
				e.bld.AddEncodedSpan(e.scratch)
				added++
			}
		}
	}
	e.cur.addSpans(t, added)
	return nil
}

// Flush queues the partly filled request, if any.
func (e *Exporter) Flush(ctx context.Context) error {
	if err := e.acquire(ctx); err != nil {
		return err
	}
	defer e.release()
	if e.closed {
		return ErrShutdown
	}
	return e.cut(ctx, false)
}

// flushFor queues the open request if it holds spans of t.
func (e *Exporter) flushFor(ctx context.Context, t *Tracker) error {
	if err := e.acquire(ctx); err != nil {
		return err
	}
	defer e.release()
	if e.closed {
		return nil // Shutdown flushed it
	}
	for _, x := range e.cur.trackers {
		if x.t == t {
			return e.cut(ctx, false)
		}
	}
	return nil
}

func (e *Exporter) getBuf() []byte {
	select {
	case b := <-e.free:
		return b
	default:
		return make([]byte, 0, e.cfg.MaxRequestBytes+(64<<10))
	}
}

func (e *Exporter) putBuf(b []byte) {
	if cap(b) > 2*int(e.cfg.MaxRequestBytes)+(64<<10) {
		return // an oversize span's buffer: let it go
	}
	select {
	case e.free <- b[:0]:
	default:
	}
}

// cut closes the open request and queues it, blocking while the queue is
// full. Called with the lock held.
func (e *Exporter) cut(ctx context.Context, reopen bool) error {
	req := e.cur
	req.body, req.spans = e.bld.Take(e.getBuf(), reopen)
	e.cur = &request{}
	if req.spans == 0 {
		e.putBuf(req.body)
		for _, x := range req.trackers {
			x.t.done(0, nil)
		}
		return nil
	}
	select {
	case e.queue <- req:
		return nil
	case <-ctx.Done():
	case <-e.runCtx.Done():
		ctx = e.runCtx
	}
	err := &ExportError{Spans: req.spans, Bytes: len(req.body), Kind: ErrShutdown, Err: context.Cause(ctx)}
	e.finish(req, err)
	return err
}

// ticker flushes requests older than FlushInterval.
func (e *Exporter) ticker() {
	defer close(e.tickDone)
	tk := time.NewTicker(e.cfg.FlushInterval / 2)
	defer tk.Stop()
	for {
		select {
		case <-e.stopTick:
			return
		case <-tk.C:
		}
		if e.acquire(e.runCtx) != nil {
			return
		}
		if !e.closed && e.bld.Spans() > 0 && time.Since(e.curSince) >= e.cfg.FlushInterval {
			_ = e.cut(e.runCtx, false) // a failure fails the trackers
		}
		e.release()
	}
}

func (e *Exporter) worker() {
	defer e.workers.Done()
	for req := range e.queue {
		e.stats.inFlight.Add(1)
		err := e.send(req)
		e.stats.inFlight.Add(-1)
		e.finish(req, err)
	}
}

func (e *Exporter) finish(req *request, err error) {
	if err != nil {
		e.stats.errors.Add(1)
		e.stats.spansFailed.Add(int64(req.spans))
	}
	for _, x := range req.trackers {
		x.t.done(x.spans, err)
	}
	e.putBuf(req.body)
	req.body, req.decoded = nil, nil
}

func (e *Exporter) upload(ctx context.Context, req *request) error {
	if e.raw != nil {
		return e.raw.UploadRequest(ctx, req.body)
	}
	if req.decoded == nil {
		var r coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(req.body, &r); err != nil {
			return fmt.Errorf("exporter: decoding request: %w", err)
		}
		req.decoded = r.ResourceSpans
	}
	return e.client.UploadTraces(ctx, req.decoded)
}

// send delivers req, retrying transient failures.
func (e *Exporter) send(req *request) error {
	start := time.Now()
	interval := e.cfg.Retry.InitialInterval
	for attempt := 1; ; attempt++ {
		ps, err := splitPartial(e.upload(e.runCtx, req))
		if ps.Rejected != 0 || ps.Message != "" {
			e.stats.rejected.Add(ps.Rejected)
			e.log.Warn("backend rejected part of a request", "rejected_spans", ps.Rejected, "spans", req.spans, "message", ps.Message)
		}
		if err == nil {
			e.stats.requests.Add(1)
			e.stats.spans.Add(int64(req.spans))
			e.stats.bytes.Add(int64(len(req.body)))
			if attempt > 1 {
				e.log.Info("request delivered after retries", "attempts", attempt, "spans", req.spans)
			}
			return nil
		}
		fail := func(kind error) error {
			ee := &ExportError{Spans: req.spans, Bytes: len(req.body), Attempts: attempt, Kind: kind, Err: err}
			e.log.Error("request not delivered", "error", ee)
			return ee
		}
		if e.runCtx.Err() != nil {
			return fail(ErrShutdown)
		}
		retryable, throttle := Classify(err)
		if !retryable {
			return fail(ErrPermanent)
		}
		// ±50% jitter around the current interval, never below the
		// server's throttling hint.
		wait := time.Duration(float64(interval) * (0.5 + rand.Float64()))
		wait = max(wait, throttle)
		interval = min(time.Duration(float64(interval)*2), e.cfg.Retry.MaxInterval)
		if me := e.cfg.Retry.MaxElapsedTime; me > 0 && time.Since(start)+wait > me {
			return fail(ErrRetriesExhausted)
		}
		e.stats.retries.Add(1)
		lvl := slog.LevelDebug
		if attempt == 1 || attempt%10 == 0 {
			lvl = slog.LevelWarn
		}
		e.log.Log(e.runCtx, lvl, "export failed, retrying", "error", err, "attempt", attempt, "wait", wait, "spans", req.spans)
		tm := time.NewTimer(wait)
		select {
		case <-tm.C:
		case <-e.runCtx.Done():
			tm.Stop()
			return fail(ErrShutdown)
		}
	}
}

// Stats returns a snapshot of the counters.
func (e *Exporter) Stats() Stats {
	s := &e.stats
	return Stats{
		SpansExported: s.spans.Load(), RequestsExported: s.requests.Load(), BytesExported: s.bytes.Load(),
		Retries: s.retries.Load(), Errors: s.errors.Load(), SpansFailed: s.spansFailed.Load(),
		RejectedSpans: s.rejected.Load(), OversizeSpans: s.oversize.Load(),
		InFlight: s.inFlight.Load(), Queued: int64(len(e.queue)),
	}
}

// Shutdown stops accepting spans, sends what is pending and stops the
// client. If ctx ends first, sends in progress are abandoned and their
// trackers fail with ErrShutdown. Calling it again returns ErrShutdown.
func (e *Exporter) Shutdown(ctx context.Context) error {
	if !e.shutdown.CompareAndSwap(false, true) {
		return ErrShutdown
	}
	if !e.started.Load() {
		e.cancelRun(ErrShutdown)
		return nil
	}
	close(e.stopTick)
	var errs []error
	if err := e.acquire(ctx); err != nil {
		e.cancelRun(ErrShutdown) // unblocks whoever holds the lock
		if err2 := e.acquire(context.Background()); err2 != nil {
			return err2
		}
		errs = append(errs, err)
	}
	if err := e.cut(ctx, false); err != nil {
		errs = append(errs, err)
	}
	e.closed = true
	close(e.queue)
	e.release()

	done := make(chan struct{})
	go func() { e.workers.Wait(); <-e.tickDone; close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.cancelRun(ErrShutdown)
		<-done
		errs = append(errs, fmt.Errorf("exporter: shutdown deadline passed with requests unsent: %w", context.Cause(ctx)))
	}
	e.cancelRun(ErrShutdown)
	if err := e.client.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("exporter: stopping client: %w", err))
	}
	return errors.Join(errs...)
}
