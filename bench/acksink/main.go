// Command acksink is a local OTLP/gRPC trace receiver that acknowledges
// every Export without decoding it: the sink for measuring
// `convert --endpoint` end to end (transport and OTLP client included, the
// backend's work left out). It counts requests and bytes and prints them
// when SIGINT or SIGTERM stops it.
//
// A gzip-compressed request is acknowledged without being inflated either
// (the bytes counted are then the compressed ones): inflating is decoding,
// the backend's work, and on the 2-core machine the benchmarks run on it
// took 1.7 CPU-seconds of an 800 MB trace's ~6 from the converter being
// measured. -inflate inflates them, as a real receiver does.
//
//	acksink -addr 127.0.0.1:4317 [-inflate]
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
)

// opaqueGzip is a "gzip" compressor whose Decompress hands the compressed
// bytes through unread, so a compressed request is taken without inflating
// it. Compress is real gzip (grpc's), for the (empty) responses.
type opaqueGzip struct{ encoding.Compressor }

func (opaqueGzip) Decompress(r io.Reader) (io.Reader, error) { return r, nil }

// raw is a message kept as its wire bytes' length: never decoded.
type raw struct{ n int }

// rawCodec hands gRPC the bytes of raw messages untouched.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(any) (mem.BufferSlice, error) {
	return mem.BufferSlice{}, nil // an empty ExportTraceServiceResponse: full success
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*raw)
	if !ok {
		return fmt.Errorf("acksink: unexpected message type %T", v)
	}
	m.n = data.Len()
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:4317", "listen address")
	inflate := flag.Bool("inflate", false, "inflate gzip-compressed requests (as a real receiver does) instead of taking them as they are")
	flag.Parse()
	// The grpc gzip package registered its compressor when imported.
	if !*inflate {
		encoding.RegisterCompressor(opaqueGzip{encoding.GetCompressor(grpcgzip.Name)})
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("acksink: listening on %s: %v", *addr, err)
	}
	var reqs, bytes atomic.Int64
	srv := grpc.NewServer(
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.MaxRecvMsgSize(256<<20),
		grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			var m raw
			if err := stream.RecvMsg(&m); err != nil {
				return err
			}
			reqs.Add(1)
			bytes.Add(int64(m.n))
			return stream.SendMsg(&raw{})
		}),
	)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Stop()
	}()
	if err := srv.Serve(lis); err != nil {
		log.Fatalf("acksink: %v", err)
	}
	fmt.Printf("acksink: %d requests, %d bytes\n", reqs.Load(), bytes.Load())
}
