package receiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"

	"github.com/klauspost/compress/gzip"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Content types of OTLP/HTTP.
const (
	contentTypeProto = "application/x-protobuf"
	contentTypeJSON  = "application/json"
)

// bodyFormat is the encoding of a request body and of its answer.
type bodyFormat int

const (
	formatProto bodyFormat = iota
	formatJSON
)

func (f bodyFormat) contentType() string {
	if f == formatJSON {
		return contentTypeJSON
	}
	return contentTypeProto
}

// readChunk is the most the HTTP side reserves in the limiter ahead of one
// read of a body.
const readChunk = 256 << 10

func (r *Receiver) newHTTPServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc(HTTPTracesPath, r.serveTraces)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return r.base },
	}
	if r.tls != nil {
		srv.TLSConfig = r.tls.Clone()
	}
	return srv
}

// serveTraces answers POST /v1/traces per the OTLP/HTTP specification.
func (r *Receiver) serveTraces(w http.ResponseWriter, req *http.Request) {
	format := formatProto
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.stats.malformed.Add(1)
		r.httpError(w, format, http.StatusMethodNotAllowed, codes.Unimplemented, "method "+req.Method+" not allowed; OTLP/HTTP uses POST")
		return
	}
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch {
	case err == nil && mt == contentTypeProto:
	case err == nil && mt == contentTypeJSON:
		format = formatJSON
	default:
		r.stats.malformed.Add(1)
		r.httpError(w, format, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("unsupported Content-Type %q; want %s or %s", req.Header.Get("Content-Type"), contentTypeProto, contentTypeJSON))
		return
	}
	max := int64(r.cfg.MaxRecvMessageBytes)
	if req.ContentLength > max {
		r.stats.tooLarge.Add(1)
		r.httpError(w, format, http.StatusRequestEntityTooLarge, codes.ResourceExhausted,
			fmt.Sprintf("%v: Content-Length %d exceeds max_recv_message_bytes %d", ErrTooLarge, req.ContentLength, max))
		return
	}
	body := io.Reader(http.MaxBytesReader(w, req.Body, max))
	sizeHint := req.ContentLength
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			r.stats.malformed.Add(1)
			r.httpError(w, format, http.StatusBadRequest, codes.InvalidArgument, fmt.Sprintf("%v: gzip header: %v", ErrMalformed, err))
			return
		}
		defer zr.Close()
		body, sizeHint = zr, -1
	default:
		r.stats.malformed.Add(1)
		r.httpError(w, format, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("unsupported Content-Encoding %q; want gzip or none", enc))
		return
	}

	data, held, err := r.readBody(body, sizeHint)
	defer r.pending.release(held)
	var maxBytesErr *http.MaxBytesError
	switch {
	case err == nil:
	case errors.Is(err, ErrOverloaded):
		r.stats.overload.Add(1)
		r.retryAfterHeader(w)
		r.httpError(w, format, http.StatusTooManyRequests, codes.ResourceExhausted,
			fmt.Sprintf("%v: max_pending_bytes %d reached; retry later", ErrOverloaded, r.cfg.MaxPendingBytes))
		return
	case errors.Is(err, ErrTooLarge), errors.As(err, &maxBytesErr):
		r.stats.tooLarge.Add(1)
		r.httpError(w, format, http.StatusRequestEntityTooLarge, codes.ResourceExhausted,
			fmt.Sprintf("%v: body exceeds max_recv_message_bytes %d", ErrTooLarge, max))
		return
	default:
		// A truncated or corrupt gzip stream, or a body the sender never
		// finished sending.
		r.stats.malformed.Add(1)
		r.httpError(w, format, http.StatusBadRequest, codes.InvalidArgument, fmt.Sprintf("%v: reading body: %v", ErrMalformed, err))
		return
	}

	var msg *collectortrace.ExportTraceServiceRequest
	if format == formatJSON {
		msg, err = decodeJSON(data)
	} else {
		msg, err = decodeProto(data)
	}
	if err != nil {
		r.stats.malformed.Add(1)
		r.log.Warn("OTLP receiver: malformed HTTP request refused", "content_type", format.contentType(), "err", err)
		r.httpError(w, format, http.StatusBadRequest, codes.InvalidArgument, err.Error())
		return
	}
	data = nil // let the body go while the Consumer runs
	if err := r.consume(req.Context(), msg.GetResourceSpans(), held); err != nil {
		if isPermanent(err) {
			r.httpError(w, format, http.StatusBadRequest, codes.InvalidArgument, err.Error())
			return
		}
		r.retryAfterHeader(w)
		r.httpError(w, format, http.StatusServiceUnavailable, codes.Unavailable, "consumer failed: "+err.Error())
		return
	}
	r.writeMessage(w, format, http.StatusOK, &collectortrace.ExportTraceServiceResponse{})
}

// readBody reads src to EOF into memory, holding every byte read in the
// limiter. It reserves at most readChunk ahead of each read, so the bytes
// held by all bodies being read never exceed MaxPendingBytes. It returns the
// number of bytes still held, which the caller must release, also on error.
func (r *Receiver) readBody(src io.Reader, sizeHint int64) (data []byte, held int64, err error) {
	max := int64(r.cfg.MaxRecvMessageBytes)
	size := int64(64 << 10)
	if sizeHint >= 0 {
		size = sizeHint + 1 // room for the read that reports EOF
	}
	buf := make([]byte, 0, min(size, max+1))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > max {
				return nil, held, ErrTooLarge
			}
			buf = append(buf, 0)[:len(buf)]
			if int64(cap(buf)) > max+1 {
				buf = buf[: len(buf) : max+1]
			}
		}
		want := min(int64(cap(buf)-len(buf)), readChunk)
		// The byte past max, read only to detect an oversized body, is not
		// held: the body is refused as soon as it arrives.
		reserve := min(want, max-int64(len(buf)))
		if reserve > 0 && !r.pending.tryAcquire(reserve) {
			return nil, held, ErrOverloaded
		}
		n, rerr := src.Read(buf[len(buf) : len(buf)+int(want)])
		got := min(int64(n), reserve)
		r.pending.release(reserve - got)
		held += got
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, held, ErrTooLarge
		}
		if rerr == io.EOF {
			return buf, held, nil
		}
		if rerr != nil {
			return nil, held, rerr
		}
	}
}

func (r *Receiver) retryAfterHeader(w http.ResponseWriter) {
	secs := int64((r.cfg.RetryAfter + 999_999_999) / 1_000_000_000) // round up
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
}

// httpError answers with a google.rpc.Status in the request's format, as
// OTLP/HTTP asks.
func (r *Receiver) httpError(w http.ResponseWriter, format bodyFormat, httpCode int, code codes.Code, msg string) {
	r.writeMessage(w, format, httpCode, &spb.Status{Code: int32(code), Message: msg})
}

func (r *Receiver) writeMessage(w http.ResponseWriter, format bodyFormat, httpCode int, m proto.Message) {
	var b []byte
	var err error
	if format == formatJSON {
		b, err = protojson.Marshal(m)
	} else {
		b, err = proto.Marshal(m)
	}
	if err != nil { // cannot happen for these message types
		r.log.Error("OTLP receiver: encoding response", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", format.contentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(httpCode)
	_, _ = w.Write(b)
}
