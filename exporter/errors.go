package exporter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors.
var (
	ErrNotStarted    = errors.New("exporter: not started")
	ErrShutdown      = errors.New("exporter: shut down")
	ErrTrackerClosed = errors.New("exporter: tracker already closed")
	// ErrPermanent is matched by an *ExportError whose cause the backend
	// will refuse again (bad request, unauthenticated, too large…).
	ErrPermanent = errors.New("exporter: permanent export failure")
	// ErrRetriesExhausted is matched by an *ExportError that was still
	// failing transiently when Config.Retry.MaxElapsedTime ran out.
	ErrRetriesExhausted = errors.New("exporter: retry time exhausted")
)

// ExportError reports a request that was not delivered. Its trackers fail
// with it.
type ExportError struct {
	Spans    int   // spans in the request
	Bytes    int   // encoded request size
	Attempts int   // attempts made
	Kind     error // ErrPermanent, ErrRetriesExhausted or ErrShutdown
	Err      error // the last transport error
}

func (e *ExportError) Error() string {
	return fmt.Sprintf("exporter: request of %d spans (%d bytes) not delivered after %d attempt(s): %v: %v",
		e.Spans, e.Bytes, e.Attempts, e.Kind, e.Err)
}

// Unwrap returns the kind and the transport error.
func (e *ExportError) Unwrap() []error { return []error{e.Kind, e.Err} }

// RetryableError lets a Client mark an error as transient, with an optional
// server-requested delay. Clients outside this package use it; ours
// classify the OTel clients' errors themselves.
type RetryableError struct {
	Err      error
	Throttle time.Duration
}

func (e *RetryableError) Error() string { return "retryable: " + e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *RetryableError) Unwrap() error { return e.Err }

// partialSuccess describes spans of an accepted request that the backend
// rejected (OTLP partial success). It is counted and logged, not an error.
type partialSuccess struct {
	Rejected int64
	Message  string
}

// walkLeaves calls fn with every error in err's tree that does not fan out
// (errors.Join trees are flattened; single-wrap chains are kept whole).
func walkLeaves(err error, fn func(error)) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			walkLeaves(e, fn)
		}
		return
	}
	fn(err)
}

// splitPartial separates OTLP partial-success reports (which the OTel
// clients return joined to a nil or real error) from real errors.
func splitPartial(err error) (partialSuccess, error) {
	var ps partialSuccess
	var rest []error
	walkLeaves(err, func(e error) {
		if n, msg, ok := asOTelPartialSuccess(e); ok {
			ps.Rejected += n
			if ps.Message == "" {
				ps.Message = msg
			}
			return
		}
		rest = append(rest, e)
	})
	switch len(rest) {
	case 0:
		return ps, nil
	case 1:
		return ps, rest[0]
	}
	return ps, errors.Join(rest...)
}

// asOTelPartialSuccess recognises the OTel OTLP clients' PartialSuccess
// error, whose type lives in their internal package. Its exported fields
// are read by reflection; TestPartialSuccess* pin this against the real
// clients so an upgrade that changes it fails the tests.
func asOTelPartialSuccess(err error) (int64, string, bool) {
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Struct || v.Type().Name() != "PartialSuccess" ||
		!strings.HasPrefix(v.Type().PkgPath(), "go.opentelemetry.io/otel/exporters/otlp/") {
		return 0, "", false
	}
	n, msg := v.FieldByName("RejectedItems"), v.FieldByName("ErrorMessage")
	if n.Kind() != reflect.Int64 || msg.Kind() != reflect.String {
		return 0, "", false
	}
	return n.Int(), msg.String(), true
}

// otelHTTPRetryable recognises otlptracehttp's unexported retryableError
// (429, 502, 503, 504 and temporary network errors) and reads its
// Retry-After delay. Pinned by TestThrottleHints.
func otelHTTPRetryable(err error) (time.Duration, bool) {
	found, throttle := false, time.Duration(0)
	walkLeaves(err, func(e error) {
		for ; e != nil && !found; e = errors.Unwrap(e) {
			v := reflect.ValueOf(e)
			if v.Kind() != reflect.Struct || v.Type().Name() != "retryableError" ||
				!strings.HasPrefix(v.Type().PkgPath(), "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp") {
				continue
			}
			found = true
			if f := v.FieldByName("throttle"); f.IsValid() && f.Kind() == reflect.Int64 {
				throttle = time.Duration(f.Int())
			}
		}
	})
	return throttle, found
}

// isTLSConfigError reports certificate problems that retrying cannot fix.
func isTLSConfigError(err error) bool {
	var ae tls.AlertError
	var ve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var oe *net.OpError // crypto/tls reports a peer's alert as Op "remote error"
	return errors.As(err, &ae) || errors.As(err, &ve) || errors.As(err, &ua) || errors.As(err, &he) ||
		errors.As(err, &oe) && oe.Op == "remote error"
}

// Classify reports whether err (from Client.UploadTraces or UploadRequest)
// is worth retrying, and any delay the server asked for. Retryable:
// RetryableError; gRPC Unavailable, DeadlineExceeded, Aborted, OutOfRange,
// DataLoss, Canceled, and ResourceExhausted unless it says the message was
// too large; HTTP 429, 502, 503, 504; network errors (connection refused or
// reset, timeouts). Everything else (InvalidArgument, Unauthenticated,
// HTTP 400, 401, 413…) is permanent, and so are TLS certificate errors
// seen by the HTTP client (the gRPC client reports those as Unavailable,
// which is retried).
func Classify(err error) (retryable bool, throttle time.Duration) {
	if err == nil {
		return false, 0
	}
	var re *RetryableError
	if errors.As(err, &re) {
		return true, re.Throttle
	}
	if d, ok := otelHTTPRetryable(err); ok {
		return true, d
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.OK && s.Code() != codes.Unknown {
		var d time.Duration
		for _, det := range s.Details() {
			if ri, ok := det.(*errdetails.RetryInfo); ok {
				d = ri.GetRetryDelay().AsDuration()
			}
		}
		switch s.Code() {
		case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange, codes.Unavailable, codes.DataLoss:
			return true, d
		case codes.ResourceExhausted:
			if strings.Contains(s.Message(), "larger than max") {
				return false, 0
			}
			return true, d
		}
		return false, 0
	}
	if isTLSConfigError(err) {
		return false, 0
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true, 0 // a per-attempt timeout
	}
	var ne net.Error
	if errors.As(err, &ne) && !errors.Is(err, context.Canceled) {
		return true, 0
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true, 0
	}
	return false, 0
}
