//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// jaeger is a client for Jaeger v2's HTTP query API (/api/v3) and its OTLP
// receivers, addressed by host:port.
type jaeger struct {
	otlpGRPC, otlpHTTP, query string
	hc                        *http.Client
}

// errNotFound is what /api/v3 answers (HTTP 404) when no trace matches.
var errNotFound = errors.New("jaeger: no traces found")

func jaegerFromEnv() (*jaeger, error) {
	j := &jaeger{hc: &http.Client{Timeout: 30 * time.Second}}
	for _, v := range []struct {
		name string
		dst  *string
	}{{"JAEGER_OTLP_GRPC", &j.otlpGRPC}, {"JAEGER_OTLP_HTTP", &j.otlpHTTP}, {"JAEGER_QUERY", &j.query}} {
		*v.dst = getenv(v.name)
		if *v.dst == "" {
			return nil, fmt.Errorf("%s is not set: start Jaeger with scripts/jaeger.sh start and source its env file (scripts/test.sh does both)", v.name)
		}
	}
	return j, nil
}

// fetch GETs a path of Jaeger's query address and returns the body of a
// 200 answer; a 404 is errNotFound.
func (j *jaeger) fetch(ctx context.Context, path string, q url.Values) ([]byte, error) {
	u := "http://" + j.query + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := j.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", u, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, errNotFound
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.500s", u, resp.Status, body)
	}
	return body, nil
}

// get fetches an /api/v3 path and decodes the OTLP/JSON under "result".
func (j *jaeger) get(ctx context.Context, path string, q url.Values) ([]Span, error) {
	body, err := j.fetch(ctx, path, q)
	if err != nil {
		return nil, err
	}
	var wrapper struct {
		Result otlpTracesData `json:"result"`
	}
	if err := json.Unmarshal(body, &wrapper); err != nil {
		return nil, fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return wrapper.Result.flatten(nil), nil
}

// Trace fetches one trace by id, raw (no Jaeger adjusters), so what comes
// back is exactly what was stored.
func (j *jaeger) Trace(ctx context.Context, traceID string) ([]Span, error) {
	return j.get(ctx, "/api/v3/traces/"+traceID, url.Values{"raw_traces": {"true"}})
}

// Find searches traces of a service (and optional operation) whose spans
// start in [min, max]; it returns every span of every matching trace.
func (j *jaeger) Find(ctx context.Context, service, operation string, min, max time.Time, n int) ([]Span, error) {
	q := url.Values{
		"query.service_name":   {service},
		"query.start_time_min": {min.UTC().Format(time.RFC3339Nano)},
		"query.start_time_max": {max.UTC().Format(time.RFC3339Nano)},
		"query.num_traces":     {strconv.Itoa(n)},
		"query.raw_traces":     {"true"},
	}
	if operation != "" {
		q.Set("query.operation_name", operation)
	}
	return j.get(ctx, "/api/v3/traces", q)
}

// Services lists the service names Jaeger knows.
func (j *jaeger) Services(ctx context.Context) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+j.query+"/api/v3/services", nil)
	if err != nil {
		return nil, err
	}
	resp, err := j.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /api/v3/services: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Services []string `json:"services"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v3/services: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("GET /api/v3/services: decode: %w", err)
	}
	return out.Services, nil
}

// poll calls f every interval until it returns true or an error, or until
// timeout; on timeout it fails the test with the last message f gave.
func poll(t *testing.T, timeout time.Duration, what string, f func(ctx context.Context) (done bool, status string, err error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	interval := 100 * time.Millisecond
	last := "never polled"
	for {
		done, status, err := f(ctx)
		if err != nil && !errors.Is(err, errNotFound) && ctx.Err() == nil {
			t.Fatalf("%s: %v", what, err)
		}
		if status != "" {
			last = status
		} else if err != nil {
			last = err.Error()
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not done after %v; last state: %s", what, timeout, last)
		case <-time.After(interval):
		}
		if interval < time.Second {
			interval += interval / 2
		}
	}
}

// firstSpansAfter measures how long after start Jaeger first lists an
// operation of service (cheap: /api/v3/operations), polling every 50 ms in
// the background. The returned func waits for the result (or timeout).
func (j *jaeger) firstSpansAfter(start time.Time, service string, timeout time.Duration) func() (time.Duration, bool) {
	done := make(chan time.Duration, 1)
	go func() {
		deadline := start.Add(timeout)
		u := "http://" + j.query + "/api/v3/operations?" + url.Values{"service": {service}}.Encode()
		for time.Now().Before(deadline) {
			resp, err := j.hc.Get(u)
			if err == nil {
				var out struct {
					Operations []json.RawMessage `json:"operations"`
				}
				ok := resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&out) == nil && len(out.Operations) > 0
				resp.Body.Close()
				if ok {
					done <- time.Since(start)
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		done <- -1
	}()
	return func() (time.Duration, bool) {
		d := <-done
		return d, d >= 0
	}
}

// taggedTrace is one trace as Jaeger's UI API (/api/traces) returns it,
// reduced to what the README's Jaeger queries are checked on.
type taggedTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []struct {
			RefType string `json:"refType"`
			TraceID string `json:"traceID"`
		} `json:"references"`
		Tags []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
		Warnings []string `json:"warnings"`
	} `json:"spans"`
}

// FindTagged runs the search Jaeger's UI runs: service, operation and tags
// (exact match) over [min, max], through /api/traces. It is the API the
// README's Jaeger queries use: in v1.76 /api/v3/traces ignores attribute
// filters, /api/traces applies them.
func (j *jaeger) FindTagged(ctx context.Context, service, operation string, tags map[string]string, min, max time.Time, n int) ([]taggedTrace, error) {
	q := url.Values{
		"service": {service},
		"start":   {strconv.FormatInt(min.UnixMicro(), 10)},
		"end":     {strconv.FormatInt(max.UnixMicro(), 10)},
		"limit":   {strconv.Itoa(n)},
	}
	if operation != "" {
		q.Set("operation", operation)
	}
	if len(tags) > 0 {
		b, err := json.Marshal(tags)
		if err != nil {
			return nil, err
		}
		q.Set("tags", string(b))
	}
	body, err := j.fetch(ctx, "/api/traces", q)
	if err != nil {
		return nil, err
	}
	var out struct {
		Data []taggedTrace `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("GET /api/traces: decode: %w", err)
	}
	return out.Data, nil
}
