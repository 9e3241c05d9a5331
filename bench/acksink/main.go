// Command acksink is a local OTLP/gRPC trace receiver that acknowledges
// every Export without decoding it: the sink for measuring
// `convert --endpoint` end to end (transport and OTLP client included, the
// backend's work left out). It counts requests and (uncompressed) bytes
// and prints them when SIGINT or SIGTERM stops it.
//
//	acksink -addr 127.0.0.1:4317
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed requests
	"google.golang.org/grpc/mem"
)

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
	flag.Parse()
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
