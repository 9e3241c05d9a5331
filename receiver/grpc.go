package receiver

import (
	"context"
	"errors"
	"fmt"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed requests
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The gRPC side registers its own ServiceDesc for
// opentelemetry.proto.collector.trace.v1.TraceService/Export, with a codec
// that sees the request's wire size before decoding it. That lets the
// receiver refuse an overloading request without first unmarshalling it,
// and count pending bytes exactly as it does for HTTP (the uncompressed
// body).

// exportCall is what the codec decodes an Export request into.
type exportCall struct {
	req      *collectortrace.ExportTraceServiceRequest
	size     int64
	acquired bool  // size bytes are held in the limiter
	err      error // ErrOverloaded or an ErrMalformed error
}

// grpcCodec decodes *exportCall itself and leaves every other message
// (the response) to gRPC's protobuf codec.
type grpcCodec struct {
	pending *limiter
	proto   encoding.CodecV2
}

func (c grpcCodec) Name() string { return grpcproto.Name }

func (c grpcCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c grpcCodec) Unmarshal(data mem.BufferSlice, v any) error {
	call, ok := v.(*exportCall)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	call.size = int64(data.Len())
	if !c.pending.tryAcquire(call.size) {
		call.err = ErrOverloaded
		return nil
	}
	call.acquired = true
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	call.req, call.err = decodeProto(buf.ReadOnlyData())
	return nil
}

// traceService is the receiver's gRPC handler type.
type traceService interface {
	export(ctx context.Context, dec func(any) error) (*collectortrace.ExportTraceServiceResponse, error)
}

var traceServiceDesc = grpc.ServiceDesc{
	ServiceName: collectortrace.TraceService_ServiceDesc.ServiceName,
	HandlerType: (*traceService)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Export",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			// The receiver installs no interceptors.
			return srv.(traceService).export(ctx, dec)
		},
	}},
	Metadata: collectortrace.TraceService_ServiceDesc.Metadata,
}

// grpcHandler implements traceService for a Receiver.
type grpcHandler struct{ r *Receiver }

func (r *Receiver) newGRPCServer() *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(int(r.cfg.MaxRecvMessageBytes)),
		grpc.ForceServerCodecV2(grpcCodec{pending: r.pending, proto: r.protoCodec}),
	}
	if r.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(r.tls.Clone())))
	}
	s := grpc.NewServer(opts...)
	s.RegisterService(&traceServiceDesc, grpcHandler{r})
	return s
}

func (h grpcHandler) export(ctx context.Context, dec func(any) error) (*collectortrace.ExportTraceServiceResponse, error) {
	r := h.r
	call := new(exportCall)
	if err := dec(call); err != nil {
		// gRPC answers oversized messages itself, with RESOURCE_EXHAUSTED
		// and no RetryInfo (not retryable for OTLP senders).
		if status.Code(err) == codes.ResourceExhausted {
			r.stats.tooLarge.Add(1)
		} else {
			r.stats.malformed.Add(1)
		}
		return nil, err
	}
	if call.acquired {
		defer r.pending.release(call.size)
	}
	switch {
	case errors.Is(call.err, ErrOverloaded):
		r.stats.overload.Add(1)
		return nil, r.grpcRetryable(codes.ResourceExhausted, fmt.Sprintf("%v: %d bytes pending, request of %d bytes would exceed max_pending_bytes %d", ErrOverloaded, r.pending.cur.Load(), call.size, r.cfg.MaxPendingBytes))
	case call.err != nil:
		r.stats.malformed.Add(1)
		r.log.Warn("OTLP receiver: malformed gRPC request refused", "err", call.err)
		return nil, status.Error(codes.InvalidArgument, call.err.Error())
	}
	if err := r.consume(ctx, call.req.GetResourceSpans(), call.size); err != nil {
		if isPermanent(err) {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		return nil, r.grpcRetryable(codes.Unavailable, "consumer failed: "+err.Error())
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// grpcRetryable builds a status that OTLP senders retry: the code plus a
// RetryInfo detail carrying Config.RetryAfter (RESOURCE_EXHAUSTED is
// retryable only with RetryInfo).
func (r *Receiver) grpcRetryable(code codes.Code, msg string) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(r.cfg.RetryAfter)}); err == nil {
		st = d
	}
	return st.Err()
}
