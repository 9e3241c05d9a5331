package otlptest

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed calls
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
)

// DefaultMaxRecvBytes is the gRPC receive limit, the default of Jaeger's
// and Tempo's OTLP receivers.
const DefaultMaxRecvBytes = 4 << 20

// Options configure a Collector. The zero value is valid.
type Options struct {
	// MaxRecvBytes is the largest request accepted on either protocol;
	// larger ones are refused (gRPC ResourceExhausted, HTTP 413), counted,
	// and not recorded. 0 means DefaultMaxRecvBytes.
	MaxRecvBytes int
	// Discard counts received requests without decoding or keeping them
	// (for benchmarks with millions of spans: the collector then costs the
	// sender's process almost nothing); Requests returns nothing.
	Discard bool
	// TLS, when set, serves both protocols over TLS with this config (set
	// ClientAuth and ClientCAs to require client certificates).
	TLS *tls.Config
}

// Failure describes how to answer a failed call.
type Failure struct {
	Code       codes.Code    // gRPC status code
	HTTPStatus int           // HTTP status code
	RetryAfter time.Duration // sent as gRPC RetryInfo / HTTP Retry-After (whole seconds) when > 0
}

// Stats are the collector's counters.
type Stats struct {
	Requests     int // requests accepted (including partial successes)
	Spans        int // spans in accepted requests
	Failed       int // calls answered with an injected failure
	TooLarge     int // requests refused for size
	MaxBytes     int // largest request received (accepted or not), in encoded protobuf bytes
	Rejected     int // spans reported rejected in partial successes
	GRPCRequests int
	HTTPRequests int
}

// Collector is an in-process OTLP collector. Its methods are safe for
// concurrent use.
type Collector struct {
	opts Options

	grpcAddr, httpAddr string

	mu          sync.Mutex
	grpcSrv     *grpc.Server
	httpSrv     *httptest.Server
	requests    []*coltracepb.ExportTraceServiceRequest
	stats       Stats
	failN       int
	fail        Failure
	partialN    int
	partialRej  int64
	partialMsg  string
	delay       time.Duration
	lastHeaders map[string][]string
	down        bool
	closed      bool
	wake        chan struct{} // closed on every recorded request
}

// Start starts a collector on two free loopback ports.
func Start(opts Options) (*Collector, error) {
	if opts.MaxRecvBytes == 0 {
		opts.MaxRecvBytes = DefaultMaxRecvBytes
	}
	c := &Collector{opts: opts, wake: make(chan struct{})}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("otlptest: listen grpc: %w", err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		gl.Close()
		return nil, fmt.Errorf("otlptest: listen http: %w", err)
	}
	c.grpcAddr, c.httpAddr = gl.Addr().String(), hl.Addr().String()
	c.serve(gl, hl)
	return c, nil
}

func (c *Collector) serve(gl, hl net.Listener) {
	// Accept anything on the wire; the size check is ours so that
	// over-size requests are counted.
	sopts := []grpc.ServerOption{grpc.MaxRecvMsgSize(1 << 30), grpc.ForceServerCodec(codec{discard: c.opts.Discard})}
	if c.opts.TLS != nil {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(c.opts.TLS)))
	}
	c.grpcSrv = grpc.NewServer(sopts...)
	coltracepb.RegisterTraceServiceServer(c.grpcSrv, traceService{c: c})
	go c.grpcSrv.Serve(gl) //nolint:errcheck // returns on Stop
	c.httpSrv = httptest.NewUnstartedServer(http.HandlerFunc(c.handleHTTP))
	c.httpSrv.Listener.Close()
	c.httpSrv.Listener = hl
	if c.opts.TLS != nil {
		c.httpSrv.TLS = c.opts.TLS.Clone()
		c.httpSrv.StartTLS()
		return
	}
	c.httpSrv.Start()
}

// GRPCEndpoint returns the gRPC target, "127.0.0.1:port".
func (c *Collector) GRPCEndpoint() string { return c.grpcAddr }

// HTTPEndpoint returns the HTTP host:port.
func (c *Collector) HTTPEndpoint() string { return c.httpAddr }

// HTTPURL returns the full traces URL, "http://127.0.0.1:port/v1/traces"
// (https with Options.TLS).
func (c *Collector) HTTPURL() string {
	if c.opts.TLS != nil {
		return "https://" + c.httpAddr + "/v1/traces"
	}
	return "http://" + c.httpAddr + "/v1/traces"
}

// FailNext makes the next n calls (either protocol) fail as f says.
func (c *Collector) FailNext(n int, f Failure) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failN, c.fail = n, f
}

// PartialSuccessNext makes the next n accepted calls report rejected spans.
func (c *Collector) PartialSuccessNext(n int, rejected int64, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partialN, c.partialRej, c.partialMsg = n, rejected, msg
}

// SetDelay delays every answer by d.
func (c *Collector) SetDelay(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delay = d
}

// Down stops both servers: their ports refuse connections until Up.
func (c *Collector) Down() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down || c.closed {
		return
	}
	c.down = true
	c.grpcSrv.Stop()
	c.httpSrv.CloseClientConnections()
	c.httpSrv.Close()
}

// Up restarts both servers on their previous ports.
func (c *Collector) Up() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.down || c.closed {
		return nil
	}
	var gl, hl net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger for a moment after Stop
		if gl, err = net.Listen("tcp", c.grpcAddr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("otlptest: relisten grpc %s: %w", c.grpcAddr, err)
	}
	for i := 0; i < 50; i++ {
		if hl, err = net.Listen("tcp", c.httpAddr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		gl.Close()
		return fmt.Errorf("otlptest: relisten http %s: %w", c.httpAddr, err)
	}
	c.down = false
	c.serve(gl, hl)
	return nil
}

// Close stops the collector.
func (c *Collector) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if !c.down {
		c.grpcSrv.Stop()
		c.httpSrv.Close()
	}
}

// Requests returns the accepted requests in arrival order (none with
// Options.Discard).
func (c *Collector) Requests() []*coltracepb.ExportTraceServiceRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*coltracepb.ExportTraceServiceRequest(nil), c.requests...)
}

// SpanIDs counts how often each span id (lowercase hex) arrived in the
// accepted requests, and returns the total number of spans (none with
// Options.Discard).
func (c *Collector) SpanIDs() (ids map[string]int, total int) {
	ids = map[string]int{}
	for _, req := range c.Requests() {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					ids[hex.EncodeToString(s.SpanId)]++
					total++
				}
			}
		}
	}
	return ids, total
}

// Stats returns a snapshot of the counters.
func (c *Collector) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// LastHeaders returns the gRPC metadata or HTTP headers of the last call.
func (c *Collector) LastHeaders() map[string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastHeaders
}

// WaitSpans blocks until at least n spans were accepted or ctx ends.
func (c *Collector) WaitSpans(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		got, wake := c.stats.Spans, c.wake
		c.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("otlptest: %d of %d spans received: %w", got, n, ctx.Err())
		}
	}
}

// verdict is the collector's answer to one call.
type verdict struct {
	fail       *Failure
	tooLarge   bool
	rejected   int64
	partialMsg string
}

// receive records one request of size bytes and decides the answer.
func (c *Collector) receive(req *coltracepb.ExportTraceServiceRequest, size int, hdr map[string][]string, isGRPC bool) verdict {
	c.mu.Lock()
	delay := c.delay
	c.lastHeaders = hdr
	if isGRPC {
		c.stats.GRPCRequests++
	} else {
		c.stats.HTTPRequests++
	}
	c.stats.MaxBytes = max(c.stats.MaxBytes, size)
	var v verdict
	switch {
	case c.failN > 0:
		c.failN--
		f := c.fail
		v.fail = &f
		c.stats.Failed++
	case size > c.opts.MaxRecvBytes:
		v.tooLarge = true
		c.stats.TooLarge++
	default:
		n := countSpans(req)
		c.stats.Requests++
		c.stats.Spans += n
		if !c.opts.Discard {
			c.requests = append(c.requests, req)
		}
		if c.partialN > 0 {
			c.partialN--
			v.rejected, v.partialMsg = c.partialRej, c.partialMsg
			c.stats.Rejected += int(c.partialRej)
		}
		close(c.wake)
		c.wake = make(chan struct{})
	}
	c.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	return v
}

func (v verdict) response() *coltracepb.ExportTraceServiceResponse {
	resp := &coltracepb.ExportTraceServiceResponse{}
	if v.rejected != 0 || v.partialMsg != "" {
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: v.rejected, ErrorMessage: v.partialMsg}
	}
	return resp
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	c *Collector
}

func (s traceService) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	size := proto.Size(req)
	v := s.c.receive(req, size, md, true)
	switch {
	case v.fail != nil:
		st := status.New(v.fail.Code, "otlptest: injected failure")
		if v.fail.RetryAfter > 0 {
			if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(v.fail.RetryAfter)}); err == nil {
				st = d
			}
		}
		return nil, st.Err()
	case v.tooLarge:
		return nil, status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", size, s.c.opts.MaxRecvBytes)
	}
	return v.response(), nil
}

func (c *Collector) handleHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(io.LimitReader(body, 1<<30))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	jsonBody := r.Header.Get("Content-Type") == "application/json"
	if c.opts.Discard && !jsonBody {
		req.ProtoReflect().SetUnknown(protoreflect.RawFields(data))
	} else if jsonBody {
		req, err = decodeJSON(data)
	} else {
		err = proto.Unmarshal(data, req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	hdr := r.Header.Clone()
	if jsonBody {
		hdr["X-Otlptest-Json"] = []string{"true"}
	}
	v := c.receive(req, proto.Size(req), hdr, false)
	switch {
	case v.fail != nil:
		if v.fail.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((v.fail.RetryAfter+time.Second-1)/time.Second)))
		}
		http.Error(w, "otlptest: injected failure", v.fail.HTTPStatus)
		return
	case v.tooLarge:
		http.Error(w, "otlptest: request too large", http.StatusRequestEntityTooLarge)
		return
	}
	out, err := proto.Marshal(v.response())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}
