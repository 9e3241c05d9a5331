package capture

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestClientErrors(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	sv.apiKey = "k3y"
	cfg := DefaultConfig()
	cfg.VLLMURL = sv.URL()
	env := map[string]string{}
	c := NewClient(cfg, func(k string) string { return env[k] }, nil)
	ctx := context.Background()

	err := c.StartProfile(ctx, time.Second)
	var ve *VLLMError
	if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &ve) || ve.Status != 401 || ve.Op != "start_profile" {
		t.Fatalf("without key: %v", err)
	}
	env[APIKeyEnv] = "k3y" // VLLM_API_KEY, as vLLM itself reads it
	if err := c.StartProfile(ctx, time.Second); err != nil {
		t.Fatalf("with VLLM_API_KEY: %v", err)
	}
	if _, err := c.Metrics(ctx, time.Second); err != nil {
		t.Fatalf("metrics: %v", err)
	}
	sv.set(func(s *standin) { s.failStop = 1 })
	if err := c.StopProfile(ctx, time.Second); !errors.Is(err, ErrServer) || !retryable(err) {
		t.Fatalf("500: %v", err)
	}
	sv.set(func(s *standin) { s.stopDelay = 300 * time.Millisecond })
	if err := c.StopProfile(ctx, 50*time.Millisecond); !errors.Is(err, ErrTimeout) || !retryable(err) {
		t.Fatalf("slow stop: %v", err)
	}
	sv.set(func(s *standin) { s.stopDelay = 0; s.noProfiler = true })
	if err := c.StopProfile(ctx, time.Second); !errors.Is(err, ErrProfilerNotEnabled) || retryable(err) {
		t.Fatalf("404: %v", err)
	}
	if strings.Contains(err.Error(), "k3y") {
		t.Fatal("error shows the key")
	}
	// nothing listening
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg.VLLMURL = "http://" + addr
	dead := NewClient(cfg, nil, nil)
	if err := dead.StartProfile(ctx, time.Second); !errors.Is(err, ErrUnreachable) || !retryable(err) || kindLabel(err) != "unreachable" {
		t.Fatalf("connection refused: %v", err)
	}
	cfg.MetricsURL = sv.URL() + "/nope"
	if _, err := NewClient(cfg, nil, nil).Metrics(ctx, time.Second); !errors.Is(err, ErrStatus) {
		t.Fatalf("metrics 404: %v", err)
	}
}
