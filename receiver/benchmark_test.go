package receiver

import (
	"context"
	"net/http"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding/gzip"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

var nopConsumer = ConsumerFunc(func(context.Context, []*tracepb.ResourceSpans) error { return nil })

func reportSpans(b *testing.B, spansPerOp int) {
	b.ReportMetric(float64(spansPerOp)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkDecode measures decoding vLLM's real llm_request export (112
// spans) as OTLP/JSON (hex-id rewrite + protojson) and as protobuf;
// otlpjson.BenchmarkUnmarshal times the id rewrite alone.
func BenchmarkDecode(b *testing.B) {
	js := readFixture(b, "llm_request.otlp.json")
	req, err := decodeJSON(js)
	if err != nil {
		b.Fatal(err)
	}
	pb := mustMarshal(b, req)
	n := countSpans(req.ResourceSpans)
	for _, c := range []struct {
		name   string
		data   []byte
		decode decoder
	}{{"json", js, decodeJSON}, {"protobuf", pb, decodeProto}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(c.data); err != nil {
					b.Fatal(err)
				}
			}
			reportSpans(b, n)
		})
	}
}

// BenchmarkExport measures whole requests over loopback (client encoding
// included) with a consumer that returns at once: 100 spans per request, 8
// concurrent senders.
func BenchmarkExport(b *testing.B) {
	const spans = 100
	req := makeRequest(1, spans)
	r := startReceiver(b, testConfig(), nopConsumer)
	client := grpcClient(b, r.Addrs().GRPC)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	httpC := &http.Client{Transport: tr}
	url := "http://" + r.Addrs().HTTP + HTTPTracesPath
	pb, js := mustMarshal(b, req), encodeJSON(b, req)
	pbGz, jsGz := testkit.Gzip(b, pb), testkit.Gzip(b, js)

	grpcBench := func(opts ...grpc.CallOption) func(*testing.B) {
		return func(b *testing.B) {
			b.SetBytes(int64(len(pb)))
			b.ReportAllocs()
			b.SetParallelism(4) // 8 senders on 2 cores
			b.RunParallel(func(p *testing.PB) {
				for p.Next() {
					if _, err := client.Export(context.Background(), req, opts...); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportSpans(b, spans)
		}
	}
	httpBench := func(body []byte, hdr map[string]string) func(*testing.B) {
		return func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(p *testing.PB) {
				for p.Next() {
					res, err := tryPostHTTP(httpC, url, body, hdr)
					if err != nil || res.code != 200 {
						b.Errorf("%v %d", err, res.code)
						return
					}
				}
			})
			reportSpans(b, spans)
		}
	}
	b.Run("grpc", grpcBench())
	b.Run("grpc-gzip", grpcBench(grpc.UseCompressor(gzip.Name)))
	b.Run("http-protobuf", httpBench(pb, map[string]string{"Content-Type": contentTypeProto}))
	b.Run("http-protobuf-gzip", httpBench(pbGz, map[string]string{"Content-Type": contentTypeProto, "Content-Encoding": "gzip"}))
	b.Run("http-json", httpBench(js, map[string]string{"Content-Type": contentTypeJSON}))
	b.Run("http-json-gzip", httpBench(jsGz, map[string]string{"Content-Type": contentTypeJSON, "Content-Encoding": "gzip"}))
}
