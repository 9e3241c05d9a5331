package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Sentinel errors of the vLLM client; a *VLLMError matches exactly one.
var (
	// ErrUnreachable: nothing answers at the address (vLLM down or
	// restarting, wrong URL).
	ErrUnreachable = errors.New("vLLM unreachable")
	// ErrTimeout: vLLM did not answer in time.
	ErrTimeout = errors.New("vLLM did not answer in time")
	// ErrUnauthorized: 401/403, the API key is missing or wrong.
	ErrUnauthorized = errors.New("vLLM refused the API key (401/403): set --vllm-api-key-file or VLLM_API_KEY to vLLM's --api-key")
	// ErrProfilerNotEnabled: 404 on /start_profile or /stop_profile: vLLM
	// mounts them only when started with --profiler-config (profiler=torch
	// and torch_profiler_dir) or, before v0.13, VLLM_TORCH_PROFILER_DIR.
	ErrProfilerNotEnabled = errors.New("vLLM has no profiler endpoints (404): start vLLM with --profiler-config '{\"profiler\":\"torch\",\"torch_profiler_dir\":\"…\"}'")
	// ErrServer: a 5xx answer.
	ErrServer = errors.New("vLLM answered with a server error")
	// ErrStatus: any other unexpected status.
	ErrStatus = errors.New("vLLM answered with an unexpected status")
)

// VLLMError is a failed request to vLLM.
type VLLMError struct {
	Op     string // "start_profile", "stop_profile", "metrics"
	URL    string // without credentials
	Status int    // HTTP status, 0 when there was no answer
	Kind   error  // one of the sentinels above
	Err    error  // the underlying error, if any
	Body   string // the start of the answer's body
}

func (e *VLLMError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vLLM %s (%s): %v", e.Op, e.URL, e.Kind)
	if e.Status != 0 {
		fmt.Fprintf(&b, ", status %d", e.Status)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ", body %q", e.Body)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Is matches the error's Kind.
func (e *VLLMError) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying error.
func (e *VLLMError) Unwrap() error { return e.Err }

// kindLabels are the metric labels of the error kinds, in the order they
// are tried.
var kindLabels = []struct {
	kind  error
	label string
}{
	{ErrUnreachable, "unreachable"}, {ErrTimeout, "timeout"}, {ErrUnauthorized, "unauthorized"},
	{ErrProfilerNotEnabled, "no_profiler"}, {ErrServer, "server_error"}, {ErrStatus, "bad_status"},
	{errParse, "parse"},
}

// kindLabel is the kind as a metric label.
func kindLabel(err error) string {
	for _, k := range kindLabels {
		if errors.Is(err, k.kind) {
			return k.label
		}
	}
	return "other"
}

// retryable reports whether a failed stop may be tried again: nothing
// answered, vLLM was too slow, or it failed inside. A 401 or 404 will not
// change by retrying.
func retryable(err error) bool {
	return errors.Is(err, ErrUnreachable) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrServer)
}

// Client talks to one vLLM server.
type Client struct {
	base       string
	metricsURL string
	key        secret
	http       *http.Client
	// maxMetricsBytes bounds a /metrics answer.
	maxMetricsBytes int64
}

// NewClient returns a client for cfg.VLLMURL; the API key comes from
// cfg.APIKeyFile or else getenv(VLLM_API_KEY), read on every request.
// hc nil means a client without a global timeout (each call has its own).
func NewClient(cfg Config, getenv func(string) string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 nil, // vLLM is beside the bridge; the key must not go through a proxy
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          2,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 0, // /stop_profile answers after the traces are written
		}}
	}
	return &Client{
		base:            strings.TrimRight(cfg.VLLMURL, "/"),
		metricsURL:      cfg.metricsURL(),
		key:             secret{file: cfg.APIKeyFile, env: APIKeyEnv, getenv: getenv},
		http:            hc,
		maxMetricsBytes: 32 << 20,
	}
}

// StartProfile sends POST /start_profile.
func (c *Client) StartProfile(ctx context.Context, timeout time.Duration) error {
	_, err := c.do(ctx, "start_profile", http.MethodPost, c.base+"/start_profile", timeout, nil)
	return err
}

// StopProfile sends POST /stop_profile once; vLLM answers after every rank
// wrote its trace.
func (c *Client) StopProfile(ctx context.Context, timeout time.Duration) error {
	_, err := c.do(ctx, "stop_profile", http.MethodPost, c.base+"/stop_profile", timeout, nil)
	return err
}

// Metrics scrapes /metrics and parses the histograms in it.
func (c *Client) Metrics(ctx context.Context, timeout time.Duration) (Scrape, error) {
	var out Scrape
	_, err := c.do(ctx, "metrics", http.MethodGet, c.metricsURL, timeout, func(r io.Reader) error {
		s, err := parseScrape(io.LimitReader(r, c.maxMetricsBytes))
		out = s
		return err
	})
	return out, err
}

func (c *Client) do(ctx context.Context, op, method, url string, timeout time.Duration, read func(io.Reader) error) (int, error) {
	fail := func(status int, kind, err error, body string) error {
		return &VLLMError{Op: op, URL: url, Status: status, Kind: kind, Err: err, Body: body}
	}
	key, err := c.key.value()
	if err != nil {
		return 0, fail(0, ErrUnauthorized, fmt.Errorf("vLLM API key: %w", err), "")
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, fail(0, ErrStatus, err, "")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if op == "metrics" {
		req.Header.Set("Accept", "text/plain;version=0.0.4")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, context.Canceled):
			return 0, fail(0, ErrTimeout, err, "") // the caller gave up (shutdown)
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			return 0, fail(0, ErrTimeout, fmt.Errorf("no answer within %s: %w", timeout, err), "")
		}
		return 0, fail(0, ErrUnreachable, err, "")
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		body := strings.TrimSpace(string(b))
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return resp.StatusCode, fail(resp.StatusCode, ErrUnauthorized, nil, body)
		case resp.StatusCode == http.StatusNotFound && op != "metrics":
			return resp.StatusCode, fail(resp.StatusCode, ErrProfilerNotEnabled, nil, body)
		case resp.StatusCode >= 500:
			return resp.StatusCode, fail(resp.StatusCode, ErrServer, nil, body)
		}
		return resp.StatusCode, fail(resp.StatusCode, ErrStatus, nil, body)
	}
	if read != nil {
		if err := read(resp.Body); err != nil {
			if isTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
				return resp.StatusCode, fail(resp.StatusCode, ErrTimeout, err, "")
			}
			return resp.StatusCode, fail(resp.StatusCode, errParse, err, "")
		}
	} else {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	}
	return resp.StatusCode, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.ETIMEDOUT)
}
