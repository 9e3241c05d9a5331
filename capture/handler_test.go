package capture

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveControl mounts the handler on a listener at addr, as the bridge
// mounts it on its HTTP address.
func serveControl(t *testing.T, h http.Handler, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func call(t *testing.T, method, url, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	decodeJSON(t, resp, &out)
	return resp, out
}

// On demand with a token: no token or a wrong one is 401, the right one
// starts a capture of the requested duration and returns its id; GET shows
// its state and, once the pipeline attached them, its trace ids.
func TestOnDemandWithToken(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("ctl-token-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logger, logs := capturedLogger()
	h := newHarness(t, sv, func(c *Config, o *Options) { c.ControlTokenFile = tokenFile; o.Logger = logger })
	h.run()
	base := serveControl(t, NewHandler(h.ctrl, tokenFile, logger), "127.0.0.1:0") + ControlPath

	if resp, _ := call(t, "POST", base, "", ""); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	if resp, _ := call(t, "POST", base, "ctl-token-12", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	if len(sv.callList()) != 0 {
		t.Fatal("an unauthorized request reached vLLM")
	}
	if resp, body := call(t, "POST", base, "ctl-token-123", `{"duration":"1h"}`); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("too long: %d %v", resp.StatusCode, body)
	}
	h.drain()
	resp, body := call(t, "POST", base, "ctl-token-123", `{"duration":"20s"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %d %v", resp.StatusCode, body)
	}
	h.waitIdle()
	id, _ := body["id"].(string)
	if id == "" || resp.Header.Get("Location") != ControlPath+"/"+id || body["duration"] != "20s" || body["trigger"] != "on_demand" {
		t.Fatalf("POST answer %v (Location %q)", body, resp.Header.Get("Location"))
	}
	if resp, body := call(t, "POST", base, "ctl-token-123", ""); resp.StatusCode != http.StatusConflict || body["refused"] != "busy" {
		t.Fatalf("second POST: %d %v", resp.StatusCode, body)
	}
	if _, got := call(t, "GET", base+"/"+id, "ctl-token-123", ""); got["state"] != "running" {
		t.Fatalf("GET while running: %v", got)
	}
	if resp, _ := call(t, "GET", base+"/"+id, "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatal("GET without token allowed")
	}
	h.advance(20 * time.Second)
	h.advance(h.cfg.FileGrace)
	cp := h.get(id)
	if len(cp.Files) != 1 {
		t.Fatalf("capture %+v", cp)
	}
	if got, ok := h.ctrl.AttachTraceIDs(cp.Files[0], []string{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7a3ce929d0e0e4736"}); !ok || got != id {
		t.Fatalf("AttachTraceIDs: %q %v", got, ok)
	}
	_, got := call(t, "GET", base+"/"+id, "ctl-token-123", "")
	ids, _ := got["trace_ids"].(map[string]any)[cp.Files[0]].([]any)
	if got["state"] != "exported" || len(ids) != 2 {
		t.Fatalf("GET after export: %v", got)
	}
	if resp, _ := call(t, "GET", base+"/cap-nope", "ctl-token-123", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown id: %d", resp.StatusCode)
	}
	if resp, body := call(t, "POST", base+"?duration=5s", "ctl-token-123", ""); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || body["refused"] != "cooldown" {
		t.Fatalf("POST in cool-down: %d %v %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if strings.Contains(logs(), "ctl-token-123") {
		t.Fatal("the control token was logged")
	}
	// the answer survives a restart of the bridge (state file)
	h.shutdown()
	h2 := newHarness(t, sv, func(c *Config, _ *Options) { c.StateFile = h.state })
	if cp, ok := h2.ctrl.Get(id); !ok || cp.State != StateExported {
		t.Fatalf("after restart: %+v %v", cp, ok)
	}
}

// Without a token: accepted over loopback, refused (403) on any other
// address, before anything reaches vLLM.
func TestOnDemandWithoutToken(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	h := newHarness(t, sv, nil)
	h.run()
	handler := NewHandler(h.ctrl, "", testLogger(t))

	// a non-loopback listener (httptest request with non-loopback addresses)
	req := httptest.NewRequest("POST", ControlPath, nil)
	req.RemoteAddr = "10.1.2.3:5555"
	req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP("10.1.2.4"), Port: 9464}))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "--control-token-file") {
		t.Fatalf("non-loopback without token: %d %s", rec.Code, rec.Body)
	}
	// loopback listener but a forwarded non-loopback peer
	req.RemoteAddr = "192.168.0.9:4444"
	req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 9464}))
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("non-loopback peer: %d", rec.Code)
	}
	if len(sv.callList()) != 0 {
		t.Fatal("vLLM was called")
	}
	// a real loopback listener
	base := serveControl(t, handler, "127.0.0.1:0") + ControlPath
	h.drain()
	resp, body := call(t, "POST", base, "", "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("loopback POST: %d %v", resp.StatusCode, body)
	}
	h.waitIdle()
	if !sv.profiling() {
		t.Fatal("loopback request did not start a capture")
	}
	if resp, body := call(t, "POST", base, "", `{"bogus":1}`); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad body: %d %v", resp.StatusCode, body)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9464": true, "[::1]:80": true, "localhost:1": true, "127.5.0.1": true,
		":9464": false, "0.0.0.0:9464": false, "10.0.0.1:1": false, "[::]:1": false, "": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v", addr, got)
		}
	}
}

// A token file that cannot be read refuses every control request (500),
// never falling back to "no token".
func TestControlTokenUnreadable(t *testing.T) {
	sv := newStandin(t, newFakeClock())
	h := newHarness(t, sv, nil)
	handler := NewHandler(h.ctrl, filepath.Join(t.TempDir(), "missing"), testLogger(t))
	req := httptest.NewRequest("POST", ControlPath, nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 9464}))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || len(sv.callList()) != 0 {
		t.Fatalf("unreadable token file: %d %s", rec.Code, rec.Body)
	}
}
