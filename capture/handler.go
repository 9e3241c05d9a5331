package capture

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ControlPath is where run mounts Handler: POST /v1/profile and
// GET /v1/profile/{id}.
const ControlPath = "/v1/profile"

// Handler serves the on-demand control API.
type Handler struct {
	ctrl  *Controller
	token secret
	log   *slog.Logger
	mux   *http.ServeMux
}

// NewHandler returns the control API of ctrl. With a tokenFile, every
// request needs "Authorization: Bearer <token>" (compared in constant
// time; the file is read per request, so a rotated Secret takes effect).
// Without one, only requests that arrive on a loopback address from a
// loopback address are served; the rest get 403.
func NewHandler(ctrl *Controller, tokenFile string, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{ctrl: ctrl, token: secret{file: tokenFile}, log: logger.With("component", "capture-control"), mux: http.NewServeMux()}
	h.mux.HandleFunc("POST "+ControlPath, h.post)
	h.mux.HandleFunc("GET "+ControlPath, h.list)
	h.mux.HandleFunc("GET "+ControlPath+"/{id}", h.get)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorize(w, r) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) bool {
	if h.token.file == "" {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if isLoopback(addrString(local)) && isLoopback(r.RemoteAddr) {
			return true
		}
		writeError(w, http.StatusForbidden, "no control token is configured (--control-token-file): only requests over a loopback address are accepted")
		return false
	}
	want, err := h.token.value()
	if err != nil {
		h.log.Error("cannot read the control token file; refusing control requests", "file", h.token.file, "err", err)
		writeError(w, http.StatusInternalServerError, "the control token file cannot be read")
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a, b := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256([]byte(want))
	if !ok || subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vllm-otel-bridge"`)
		writeError(w, http.StatusUnauthorized, "a valid bearer token is required")
		h.log.Warn("control request with a missing or wrong token", "remote", r.RemoteAddr, "path", r.URL.Path)
		return false
	}
	return true
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// isLoopback reports whether host:port (or host) is a loopback address.
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// profileRequest is POST /v1/profile's optional body.
type profileRequest struct {
	Duration Duration `json:"duration"`
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	var req profileRequest
	if q := r.URL.Query().Get("duration"); q != "" {
		d, err := time.ParseDuration(q)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("duration: %v", err))
			return
		}
		req.Duration = Duration(d)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4097))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("read body: %v", err))
		return
	}
	if len(body) > 4096 {
		writeError(w, http.StatusRequestEntityTooLarge, "body larger than 4 KiB")
		return
	}
	if strings.TrimSpace(string(body)) != "" {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf(`body: %v (want {"duration":"30s"} or nothing)`, err))
			return
		}
	}
	cp, err := h.ctrl.Request(r.Context(), time.Duration(req.Duration))
	if err != nil {
		var ref *RefusedError
		switch {
		case errors.As(err, &ref):
			status := http.StatusConflict
			switch ref.Reason {
			case RefusedCooldown, RefusedRateLimit:
				status = http.StatusTooManyRequests
			case RefusedDiskBudget, RefusedPrecondition, RefusedStopping:
				status = http.StatusServiceUnavailable
			}
			if ref.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ref.RetryAfter.Seconds()))))
			}
			writeJSON(w, status, map[string]string{"error": err.Error(), "refused": ref.Reason})
		default:
			writeError(w, http.StatusBadRequest, err.Error())
		}
		return
	}
	h.log.Info("on-demand capture requested", "capture_id", cp.ID, "duration", time.Duration(cp.Duration), "remote", r.RemoteAddr)
	w.Header().Set("Location", ControlPath+"/"+cp.ID)
	writeJSON(w, http.StatusAccepted, cp)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	cp, ok := h.ctrl.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such capture (the last 64 are kept)")
		return
	}
	writeJSON(w, http.StatusOK, cp)
}

func (h *Handler) list(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"captures": h.ctrl.List()})
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
