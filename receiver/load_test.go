package receiver

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// loadDuration is how long TestLoad sends: a few seconds in CI, a minute
// with BRIDGE_LONG_TESTS=1.
func loadDuration() time.Duration {
	if os.Getenv("BRIDGE_LONG_TESTS") == "1" {
		return time.Minute
	}
	return 3 * time.Second
}

// slowConsumer admits two calls at a time and takes 1 ms plus 2 µs per span
// for each, recording every span id and any id seen twice. Until the
// receiver has refused a request for overload, it holds every call (for at
// most 10 s), so that overload happens on any machine, however slow the
// senders are (the race detector on a loaded CI box).
type slowConsumer struct {
	sem  chan struct{}
	recv atomic.Pointer[Receiver]
	mu   sync.Mutex
	seen map[uint64]struct{}
	dups []uint64
}

func (c *slowConsumer) ConsumeTraces(ctx context.Context, rs []*tracepb.ResourceSpans) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if r := c.recv.Load(); r != nil && r.Stats().RefusedOverload > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.sem }()
	n := countSpans(rs)
	time.Sleep(time.Millisecond + time.Duration(n)*2*time.Microsecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rs {
		for _, ss := range r.ScopeSpans {
			for _, sp := range ss.Spans {
				id := binary.BigEndian.Uint64(sp.SpanId)
				if _, ok := c.seen[id]; ok {
					c.dups = append(c.dups, id)
				}
				c.seen[id] = struct{}{}
			}
		}
	}
	return nil
}

// senderResult is what one load sender saw.
type senderResult struct {
	acked             []uint64 // span ids in acknowledged requests
	requests, retries int
	refusedOverload   int // retryable "overloaded" answers
	refusedConsumer   int // retryable "consumer failed" answers
	failures          []string
}

// TestLoad runs concurrent gRPC and HTTP senders (protobuf, JSON, gzip) at
// full speed against a slow consumer and a small pending bound. Every span
// acknowledged must reach the consumer exactly once, nothing else may reach
// it, the pending bound must hold, overload must be answered as retryable,
// and senders that retry must get everything through.
func TestLoad(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRecvMessageBytes = 256 << 10 // the largest JSON request is about 205 KB
	cfg.MaxPendingBytes = 256 << 10     // 12 senders hold about 650 KB on average: overload
	cfg.RetryAfter = 5 * time.Millisecond
	consumer := &slowConsumer{sem: make(chan struct{}, 2), seen: make(map[uint64]struct{})}
	r := startReceiver(t, cfg, consumer)
	consumer.recv.Store(r)

	cc, err := grpc.NewClient(r.Addrs().GRPC, grpc.WithTransportCredentials(insecureCreds()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	grpcC := collectortrace.NewTraceServiceClient(cc)
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	defer tr.CloseIdleConnections()
	httpC := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := "http://" + r.Addrs().HTTP + HTTPTracesPath

	// Heap sampler.
	var peakHeap atomic.Uint64
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	})

	type sender struct {
		name string
		send func(req *collectortrace.ExportTraceServiceRequest) (retryable bool, overload bool, err error)
	}
	grpcSend := func(opts ...grpc.CallOption) func(*collectortrace.ExportTraceServiceRequest) (bool, bool, error) {
		return func(req *collectortrace.ExportTraceServiceRequest) (bool, bool, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := grpcC.Export(ctx, req, opts...)
			if err == nil {
				return false, false, nil
			}
			code := status.Code(err)
			retryable := (code == codes.ResourceExhausted && retryDelay(err) >= 0) || code == codes.Unavailable
			return retryable, code == codes.ResourceExhausted, err
		}
	}
	httpSend := func(json, gz bool) func(*collectortrace.ExportTraceServiceRequest) (bool, bool, error) {
		return func(req *collectortrace.ExportTraceServiceRequest) (bool, bool, error) {
			hdr := map[string]string{"Content-Type": contentTypeProto}
			var body []byte
			if json {
				hdr["Content-Type"] = contentTypeJSON
				body = encodeJSON(t, req)
			} else {
				body = mustMarshal(t, req)
			}
			if gz {
				hdr["Content-Encoding"] = "gzip"
				body = testkit.Gzip(t, body)
			}
			res, err := tryPostHTTP(httpC, url, body, hdr)
			if err != nil {
				return false, false, err
			}
			switch res.code {
			case http.StatusOK:
				return false, false, nil
			case http.StatusTooManyRequests, http.StatusServiceUnavailable:
				if res.retryAfter == "" {
					return false, false, fmt.Errorf("status %d without Retry-After", res.code)
				}
				return true, res.code == http.StatusTooManyRequests, fmt.Errorf("status %d", res.code)
			}
			return false, false, fmt.Errorf("status %d: %s", res.code, res.body)
		}
	}
	senders := []sender{
		{"grpc", grpcSend()}, {"grpc", grpcSend()}, {"grpc", grpcSend()},
		{"grpc+gzip", grpcSend(grpc.UseCompressor(gzip.Name))}, {"grpc+gzip", grpcSend(grpc.UseCompressor(gzip.Name))},
		{"http", httpSend(false, false)}, {"http", httpSend(false, false)}, {"http", httpSend(false, false)},
		{"http+gzip", httpSend(false, true)}, {"http+gzip", httpSend(false, true)},
		{"http json", httpSend(true, false)}, {"http json+gzip", httpSend(true, true)},
	}

	dur := loadDuration()
	start := time.Now()
	stopAt := start.Add(dur)
	giveUpAt := stopAt.Add(30 * time.Second)
	results := make([]senderResult, len(senders))
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Go(func() {
			res := &results[i]
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for seq := uint64(0); time.Now().Before(stopAt); seq++ {
				req := makeRequest(uint64(i)<<24|seq, 50+rng.IntN(200))
				res.requests++
				for attempt := 0; ; attempt++ {
					retryable, overload, err := s.send(req)
					if err == nil {
						for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
							res.acked = append(res.acked, binary.BigEndian.Uint64(sp.SpanId))
						}
						break
					}
					if !retryable {
						res.failures = append(res.failures, fmt.Sprintf("%s: %v", s.name, err))
						break
					}
					if overload {
						res.refusedOverload++
					} else {
						res.refusedConsumer++
					}
					if time.Now().After(giveUpAt) {
						res.failures = append(res.failures, fmt.Sprintf("%s: still refused after %d attempts: %v", s.name, attempt+1, err))
						break
					}
					res.retries++
					time.Sleep(time.Duration(1+rng.IntN(4)) * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopSampling)
	sampler.Wait()

	var acked, requests, retries, overload, consumerRefusals int
	for i, res := range results {
		for _, f := range res.failures {
			t.Errorf("sender %d: %s", i, f)
		}
		acked += len(res.acked)
		requests += res.requests
		retries += res.retries
		overload += res.refusedOverload
		consumerRefusals += res.refusedConsumer
	}
	consumer.mu.Lock()
	defer consumer.mu.Unlock()
	if len(consumer.dups) > 0 {
		t.Errorf("%d spans reached the consumer more than once (first %x)", len(consumer.dups), consumer.dups[0])
	}
	if len(consumer.seen) != acked {
		t.Errorf("consumer saw %d distinct spans, senders had %d acknowledged", len(consumer.seen), acked)
	}
	for _, res := range results {
		for _, id := range res.acked {
			if _, ok := consumer.seen[id]; !ok {
				t.Fatalf("acknowledged span %x never reached the consumer", id)
			}
		}
	}
	st := r.Stats()
	if st.PeakPendingBytes > int64(cfg.MaxPendingBytes) {
		t.Errorf("peak pending %d > bound %d", st.PeakPendingBytes, cfg.MaxPendingBytes)
	}
	if st.RefusedOverload == 0 || int(st.RefusedOverload) != overload {
		t.Errorf("receiver counted %d overload refusals, senders saw %d; want the same, above 0", st.RefusedOverload, overload)
	}
	if consumerRefusals != 0 || st.Errors() != 0 {
		t.Errorf("unexpected errors: %d consumer refusals seen by senders, stats %+v", consumerRefusals, st)
	}
	if st.Spans != int64(acked) || st.Requests != int64(requests) || st.PendingBytes != 0 {
		t.Errorf("stats %+v, want %d spans in %d requests, nothing pending", st, acked, requests)
	}
	t.Logf("load: %d senders for %v: %d requests, %d spans acknowledged (%.0f spans/s, %.1f MB/s of bodies); "+
		"%d overload refusals (%d retries), peak pending %d of %d bytes, peak heap in use %.1f MiB",
		len(senders), elapsed.Round(time.Millisecond), requests, acked, float64(acked)/elapsed.Seconds(),
		float64(st.Bytes)/elapsed.Seconds()/1e6, st.RefusedOverload, retries, st.PeakPendingBytes, cfg.MaxPendingBytes,
		float64(peakHeap.Load())/(1<<20))
}
