package reliability

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// loadRequest builds one OTLP request of n spans whose span ids encode
// (sender, seq, i), so every span is distinct and traceable.
func loadRequest(sender, seq, n int) (*coltracepb.ExportTraceServiceRequest, []string) {
	ids := make([]string, n)
	spans := make([]*tracepb.Span, n)
	now := uint64(time.Now().UnixNano())
	for i := range spans {
		sid := make([]byte, 8)
		binary.BigEndian.PutUint64(sid, uint64(sender)<<48|uint64(seq)<<16|uint64(i)|1<<63)
		tid := make([]byte, 16)
		binary.BigEndian.PutUint64(tid, uint64(sender)<<32|uint64(seq))
		tid[15] = 1
		ids[i] = hex.EncodeToString(sid)
		spans[i] = &tracepb.Span{TraceId: tid, SpanId: sid, Name: "load.test", Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: now, EndTimeUnixNano: now + 1000,
			Attributes: []*commonpb.KeyValue{{Key: "load.payload", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.Repeat("x", 100)}}}}}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "load"}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}, ids
}

// TestDaemonReceiverLoad feeds the daemon's OTLP/HTTP and OTLP/gRPC
// receivers from several concurrent senders for a bounded time, into a
// collector slower than the senders: every acknowledged span is forwarded,
// overload is answered with 429 / RESOURCE_EXHAUSTED (never a drop), and
// the daemon's peak RSS stays bounded.
func TestDaemonReceiverLoad(t *testing.T) {
	dur := 4 * time.Second
	if longTests() {
		dur = 30 * time.Second
	}
	const senders, spansPerReq = 8, 2000
	c := testkit.StartCollector(t, otlptest.Options{Discard: false})
	c.SetDelay(20 * time.Millisecond)
	httpAddr, grpcAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
	dir, state := t.TempDir(), t.TempDir()+"/state.json"
	d := startChild(t, daemonArgs(dir, state, c, "--receiver-http", httpAddr, "--receiver-grpc", grpcAddr,
		"--receiver-max-pending-bytes", "1MiB", "--receiver-max-message-bytes", "512KiB", "--max-in-flight", "1", "--max-request-bytes", "256KiB"), nil)
	testkit.WaitFor(t, "the receivers to listen", 10*time.Second, func() bool {
		for _, a := range []string{httpAddr, grpcAddr} {
			conn, err := net.Dial("tcp", a)
			if err != nil {
				return false
			}
			conn.Close()
		}
		return true
	})

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	grpcClient := coltracepb.NewTraceServiceClient(conn)

	var (
		mu                         sync.Mutex
		acked                      = map[string]bool{}
		okReqs, refused, otherErrs atomic.Int64
		errSample                  atomic.Value
	)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			hc := &http.Client{Timeout: 10 * time.Second}
			for seq := 0; ctx.Err() == nil; seq++ {
				req, ids := loadRequest(s, seq, spansPerReq)
				var ok, overload bool
				var e error
				if s%2 == 0 {
					body, _ := proto.Marshal(req)
					resp, err := hc.Post("http://"+httpAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
					if err != nil {
						e = err
					} else {
						resp.Body.Close()
						ok, overload = resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusTooManyRequests
						if !ok && !overload {
							e = fmt.Errorf("HTTP %d", resp.StatusCode)
						}
					}
				} else {
					_, err := grpcClient.Export(context.Background(), req)
					ok, overload = err == nil, status.Code(err) == codes.ResourceExhausted
					if !ok && !overload {
						e = err
					}
				}
				switch {
				case ok:
					okReqs.Add(1)
					mu.Lock()
					for _, id := range ids {
						acked[id] = true
					}
					mu.Unlock()
				case overload:
					refused.Add(1)
					time.Sleep(5 * time.Millisecond)
				default:
					otherErrs.Add(1)
					errSample.Store(e.Error())
				}
			}
		}(s)
	}
	var peak int64
	go func() {
		for ctx.Err() == nil {
			if h := d.VmHWM(); h > peak {
				peak = h
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	wg.Wait()
	if n := otherErrs.Load(); n > 0 {
		t.Errorf("%d requests failed with something other than overload, e.g. %v", n, errSample.Load())
	}
	mu.Lock()
	nAcked := len(acked)
	mu.Unlock()
	c.SetDelay(0)
	testkit.WaitFor(t, "every acknowledged span at the collector", 60*time.Second, arrived(c, acked))
	hwm := d.VmHWM()
	d.Stop(t)
	_, total := c.SpanIDs()
	t.Logf("%s, %d senders (HTTP and gRPC): %d requests acknowledged (%d spans), %d refused with 429/RESOURCE_EXHAUSTED, 0 other errors; %d spans at the collector, every acknowledged one included; daemon VmHWM %.0f MiB",
		dur, senders, okReqs.Load(), nAcked, refused.Load(), total, float64(hwm)/1024)
	if refused.Load() == 0 {
		t.Errorf("no overload answer: the test did not push the receiver past its pending bound")
	}
	if hwm > 512*1024 {
		t.Errorf("daemon VmHWM %d KiB over 512 MiB with a 1 MiB pending bound", hwm)
	}
}
