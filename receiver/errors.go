package receiver

import (
	"errors"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configerr"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp"
)

// Sentinel errors, for callers and tests to decide with errors.Is. The
// per-request ones (ErrMalformed, ErrTooLarge, ErrOverloaded) also appear in
// the messages senders get back.
var (
	// ErrInvalidConfig is wrapped by every *ConfigError (of any
	// component: it is configerr.ErrInvalid).
	ErrInvalidConfig = configerr.ErrInvalid
	// ErrStarted is returned by Start on a receiver that was already started.
	ErrStarted = errors.New("receiver: already started")
	// ErrClosed is returned by Start after Shutdown.
	ErrClosed = errors.New("receiver: shut down")
	// ErrMalformed marks request data that cannot be decoded or that breaks
	// OTLP's rules (ids of the wrong length). Senders get gRPC
	// INVALID_ARGUMENT or HTTP 400 and must not retry. It is the codec's
	// otlp.ErrMalformed.
	ErrMalformed = otlp.ErrMalformed
	// ErrTooLarge marks a request over MaxRecvMessageBytes. Senders get gRPC
	// RESOURCE_EXHAUSTED without RetryInfo or HTTP 413.
	ErrTooLarge = errors.New("request too large")
	// ErrOverloaded marks a request refused because MaxPendingBytes was
	// reached. Senders get gRPC RESOURCE_EXHAUSTED with RetryInfo or HTTP 429
	// with Retry-After and should retry later.
	ErrOverloaded = errors.New("receiver overloaded")
)

// ConfigError names the configuration key that is wrong and why (Component
// "receiver", Key e.g. "max_pending_bytes" or "tls.cert_file"; the type all
// components share). It wraps ErrInvalidConfig.
type ConfigError = configerr.Error

// PermanentError is returned by a Consumer to say that retrying the same data
// cannot succeed (for example, the backend rejected it as invalid). The
// sender then gets gRPC INVALID_ARGUMENT or HTTP 400 instead of a retryable
// answer. Any other Consumer error is answered as retryable.
type PermanentError struct {
	Err error
}

// NewPermanentError wraps err as a PermanentError. It returns nil for nil.
func NewPermanentError(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// isPermanent reports whether err is or wraps a *PermanentError.
func isPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
