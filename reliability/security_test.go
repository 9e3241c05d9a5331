package reliability

import (
	"bufio"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/convtest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// listeningAddrs returns the local addresses of the TCP sockets the
// process pid listens on, from /proc (IPv4 and IPv6).
func listeningAddrs(t *testing.T, pid int) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, file := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, file))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] { // 0A = LISTEN
				continue
			}
			hostPort := strings.Split(fields[1], ":")
			raw, _ := new(big.Int).SetString(hostPort[0], 16)
			b := raw.FillBytes(make([]byte, len(hostPort[0])/2))
			// /proc prints each 32-bit word in host (little-endian) order.
			for i := 0; i+4 <= len(b); i += 4 {
				b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
			}
			port, _ := strconv.ParseInt(hostPort[1], 16, 32)
			out = append(out, net.JoinHostPort(net.IP(b).String(), strconv.Itoa(int(port))))
		}
		f.Close()
	}
	return out
}

// TestListenersLoopbackByDefault starts the daemon with the default
// telemetry address and the receivers on port-only addresses given as
// 127.0.0.1: every listening socket of the child is on loopback.
func TestListenersLoopbackByDefault(t *testing.T) {
	t.Parallel()
	c := testkit.StartCollector(t, otlptest.Options{})
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	args := daemonArgs(dir, state, c)
	// Drop "--metrics-addr ''": the default applies.
	for i := range args {
		if args[i] == "--metrics-addr" {
			args = append(args[:i:i], args[i+2:]...)
			break
		}
	}
	d := startChild(t, args, nil)
	var addrs []string
	testkit.WaitFor(t, "the telemetry listener", 10*time.Second, func() bool {
		if !d.Alive() {
			return true
		}
		addrs = listeningAddrs(t, d.Pid())
		return len(addrs) > 0
	})
	if !d.Alive() {
		// Port 9464 taken by someone else: the error still names the
		// default address, which must be loopback.
		if out := d.Output(); !strings.Contains(out, "127.0.0.1:9464") {
			t.Fatalf("daemon exited and did not name 127.0.0.1:9464:\n%s", out)
		}
		t.Logf("default telemetry address 127.0.0.1:9464 busy; the daemon named it in its error")
		return
	}
	for _, a := range addrs {
		if h, _, _ := net.SplitHostPort(a); !net.ParseIP(h).IsLoopback() {
			t.Errorf("daemon listens on %s, not loopback, by default", a)
		}
	}
	resp, err := http.Get("http://127.0.0.1:9464/healthz")
	if err != nil {
		t.Fatalf("default telemetry endpoint: %v", err)
	}
	resp.Body.Close()
	d.Stop(t)
	t.Logf("default listeners: %v (all loopback)", addrs)
}

// exportArgs are daemonArgs without --insecure and with endpoint ep.
func exportArgs(dir, state string, c *otlptest.Collector, ep string, extra ...string) []string {
	args := daemonArgs(dir, state, c)
	out := args[:0:0]
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--insecure":
			continue
		case "--endpoint":
			out = append(out, "--endpoint", ep)
			i++
			continue
		}
		out = append(out, args[i])
	}
	return append(out, extra...)
}

// TestExportTLSAndMTLS exports over gRPC and HTTP to a collector behind
// TLS, then behind mTLS: with the right CA (and client certificate) every
// span arrives; with no client certificate, or a CA that did not sign the
// server, nothing arrives, the file stays unrecorded and the reason is
// logged.
func TestExportTLSAndMTLS(t *testing.T) {
	t.Parallel()
	p := testkit.NewPKI(t)
	want := convtest.SpanIDs(t, smallTrace)
	name := filepath.Base(smallTrace)
	other := testkit.NewPKI(t) // a CA that did not sign the server

	cases := []struct {
		name      string
		mtls      bool
		protocol  string
		extra     func(p *testkit.PKI) []string
		delivered bool
		logWord   string
	}{
		{"TLS gRPC", false, "grpc", func(p *testkit.PKI) []string { return []string{"--tls-ca", p.CAFile} }, true, ""},
		{"TLS HTTP", false, "http", func(p *testkit.PKI) []string { return []string{"--tls-ca", p.CAFile} }, true, ""},
		{"mTLS gRPC", true, "grpc", func(p *testkit.PKI) []string {
			return []string{"--tls-ca", p.CAFile, "--tls-cert", p.ClientCertFile, "--tls-key", p.ClientKeyFile}
		}, true, ""},
		{"mTLS HTTP", true, "http", func(p *testkit.PKI) []string {
			return []string{"--tls-ca", p.CAFile, "--tls-cert", p.ClientCertFile, "--tls-key", p.ClientKeyFile}
		}, true, ""},
		// The server drops the connection after the handshake (TLS 1.3): the
		// client only sees a broken connection, not "certificate required".
		{"mTLS gRPC without a client certificate", true, "grpc", func(p *testkit.PKI) []string { return []string{"--tls-ca", p.CAFile} }, false, `msg="export failed`},
		{"TLS gRPC with the wrong CA", false, "grpc", func(*testkit.PKI) []string { return []string{"--tls-ca", other.CAFile} }, false, "x509: certificate signed by unknown authority"},
		{"TLS HTTP with the wrong CA", false, "http", func(*testkit.PKI) []string { return []string{"--tls-ca", other.CAFile} }, false, "x509: certificate signed by unknown authority"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testkit.StartCollector(t, otlptest.Options{TLS: p.ServerTLS(tc.mtls)})
			ep := c.GRPCEndpoint()
			if tc.protocol == "http" {
				ep = c.HTTPURL()
			}
			dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
			args := exportArgs(dir, state, c, ep, append([]string{"--protocol", tc.protocol, "--shutdown-timeout", "1s"}, tc.extra(p)...)...)
			d := startChild(t, args, nil)
			testkit.PlaceFile(t, filepath.Join(dir, name), testkit.ReadFile(t, smallTrace))
			if tc.delivered {
				testkit.WaitFor(t, "the file exported", 30*time.Second, func() bool { return testkit.StateRecords(t, state)[name] == "exported" })
				got, _ := c.SpanIDs()
				checkAllDelivered(t, want, got)
				d.Stop(t)
				return
			}
			testkit.WaitFor(t, "the TLS failure logged", 30*time.Second, func() bool {
				return strings.Contains(d.Output(), tc.logWord)
			})
			time.Sleep(500 * time.Millisecond)
			if n := c.Stats().Spans; n != 0 {
				t.Fatalf("%d spans accepted over a connection that should have been refused", n)
			}
			if s := testkit.StateRecords(t, state)[name]; s == "exported" {
				t.Fatal("file recorded as exported although nothing was delivered")
			}
			if !d.Alive() {
				t.Fatal("daemon exited on a TLS failure")
			}
			t.Logf("refused and logged: %s", firstLine(d.Output(), tc.logWord))
			d.Stop(t)
		})
	}
}

// TestHeadersReachBackendNeverLogged sends with --headers authorization=
// Bearer SECRET at debug log level over gRPC and HTTP: the collector sees
// the header, the daemon's output never contains the secret.
func TestHeadersReachBackendNeverLogged(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-T0KEN-5d41402abc4b2a76"
	for _, protocol := range []string{"grpc", "http"} {
		t.Run(protocol, func(t *testing.T) {
			c := testkit.StartCollector(t, otlptest.Options{})
			dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
			ep := c.GRPCEndpoint()
			if protocol == "http" {
				ep = c.HTTPURL()
			}
			args := append(daemonArgs(dir, state, c, "--log-level", "debug", "--log-format", "json",
				"--headers", "authorization=Bearer "+secret+",x-scope-orgid=tenant-1", "--protocol", protocol), "--endpoint", ep)
			d := startChild(t, args, nil)
			testkit.PlaceFile(t, filepath.Join(dir, filepath.Base(smallTrace)), testkit.ReadFile(t, smallTrace))
			testkit.WaitFor(t, "the export", 30*time.Second, func() bool { return testkit.StateRecords(t, state)[filepath.Base(smallTrace)] == "exported" })
			d.Stop(t)
			h := c.LastHeaders()
			if got := h["authorization"]; len(got) != 1 || got[0] != "Bearer "+secret {
				if got := h["Authorization"]; len(got) != 1 || got[0] != "Bearer "+secret {
					t.Fatalf("backend got authorization %q, want the configured bearer token (headers: %v)", got, keys(h))
				}
			}
			out := d.Output()
			if strings.Contains(out, secret) || strings.Contains(out, "5d41402abc4b2a76") {
				t.Fatalf("the secret appears in the daemon's output:\n%s", firstLine(out, "5d41402abc4b2a76"))
			}
			t.Logf("%s: header delivered; %d bytes of debug logs, secret absent", protocol, len(out))
		})
	}
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// privateLog rewrites the H100 run's vLLM text log the way vLLM v0.8 logged
// requests: the prompt and its token ids on the Received line, the output
// and its token ids on the Generated response line, each made unique and
// recognisable. It returns the log and the secrets to look for.
func privateLog(t *testing.T) (log []byte, texts []string, tokens []string) {
	t.Helper()
	recv := regexp.MustCompile(`Received request (\S+): params: (.*), lora_request: None\.`)
	gen := regexp.MustCompile(`Generated response (\S+): output: '[^']*', output_token_ids: \[[^\]]*\]`)
	var b strings.Builder
	n := 0
	for _, line := range strings.Split(string(testkit.ReadFile(t, "../testdata/h100/vllm.log")), "\n") {
		n++
		switch {
		case recv.MatchString(line):
			prompt := fmt.Sprintf("PRIVATE-PROMPT-%d tell me about my medical record", n)
			tok1, tok2 := 9_100_000+n, 9_200_000+n
			texts = append(texts, prompt)
			tokens = append(tokens, strconv.Itoa(tok1), strconv.Itoa(tok2))
			line = recv.ReplaceAllString(line, fmt.Sprintf(`Received request $1: prompt: '%s', params: $2, prompt_token_ids: [%d, %d], lora_request: None, prompt_adapter_request: None.`, prompt, tok1, tok2))
		case gen.MatchString(line):
			out := fmt.Sprintf("PRIVATE-OUTPUT-%d your diagnosis is", n)
			tok := 9_300_000 + n
			texts = append(texts, out)
			tokens = append(tokens, strconv.Itoa(tok))
			line = gen.ReplaceAllString(line, fmt.Sprintf(`Generated response $1: output: '%s', output_token_ids: [%d, 17]`, out, tok))
		}
		b.WriteString(line + "\n")
	}
	if len(texts) < 40 {
		t.Fatalf("only %d prompt/output lines rewritten", len(texts))
	}
	return []byte(b.String()), texts, tokens
}

// leaks returns the secrets found in out (token ids as whole numbers).
func leaks(out string, texts, tokens []string) []string {
	var found []string
	for _, s := range texts {
		if strings.Contains(out, s) {
			found = append(found, s)
		}
	}
	numbers := map[string]bool{}
	for i := 0; i < len(out); {
		if out[i] < '0' || out[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(out) && out[j] >= '0' && out[j] <= '9' {
			j++
		}
		if j-i == 7 { // every token id of privateLog has 7 digits
			numbers[out[i:j]] = true
		}
		i = j
	}
	for _, tok := range tokens {
		if numbers[tok] {
			found = append(found, tok)
		}
	}
	return found
}

// TestPromptPrivacy converts the real trace with a vLLM log full of prompt
// text, outputs and token ids, through `convert` (OTLP/JSON file) and the
// daemon (--vllm-log, collector): no secret appears in what is exported,
// nor in the daemon's debug logs. There is no switch to export them.
func TestPromptPrivacy(t *testing.T) {
	t.Parallel()
	log, texts, tokens := privateLog(t)
	// Positive control: the detector finds every secret in the log itself.
	if n := len(leaks(string(log), texts, tokens)); n != len(texts)+len(tokens) {
		t.Fatalf("leak detector finds %d of %d secrets in the log itself", n, len(texts)+len(tokens))
	}
	tmp := t.TempDir()
	logPath := filepath.Join(tmp, "vllm.log")
	if err := os.WriteFile(logPath, log, 0o644); err != nil {
		t.Fatal(err)
	}
	convert := func(extra ...string) (string, string) {
		out := filepath.Join(t.TempDir(), "spans.jsonl")
		args := append([]string{"convert", "--requests", logPath, "--timezone", "UTC", "-o", out, "--log-level", "debug"}, extra...)
		args = append(args, smallTrace)
		cmd := startChild(t, args, nil)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("convert: %v\n%s", err, cmd.Output())
		}
		return string(testkit.ReadFile(t, out)), cmd.Output()
	}
	spans, logs := convert()
	if !strings.Contains(spans, "gen_ai.request.id") {
		t.Fatalf("no request was linked: the test would prove nothing")
	}
	if l := leaks(spans, texts, tokens); len(l) > 0 {
		t.Fatalf("exported OTLP/JSON contains %d secrets, e.g. %q", len(l), l[0])
	}
	if l := leaks(logs, texts, tokens); len(l) > 0 {
		t.Fatalf("convert's debug log contains %d secrets, e.g. %q", len(l), l[0])
	}
	linked := strings.Count(spans, `"gen_ai.request.id"`)

	// The daemon, following the same log, to the collector.
	c := testkit.StartCollector(t, otlptest.Options{})
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	d := startChild(t, daemonArgs(dir, state, c, "--vllm-log", logPath, "--vllm-log-timezone", "UTC", "--hold-timeout", "1s", "--log-level", "debug"), nil)
	testkit.PlaceFile(t, filepath.Join(dir, filepath.Base(smallTrace)), testkit.ReadFile(t, smallTrace))
	testkit.WaitFor(t, "the export", 30*time.Second, func() bool { return testkit.StateRecords(t, state)[filepath.Base(smallTrace)] == "exported" })
	d.Stop(t)
	var all strings.Builder
	for _, req := range c.Requests() {
		b, err := protojson.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	if l := leaks(all.String(), texts, tokens); len(l) > 0 {
		t.Fatalf("spans sent to the collector contain %d secrets, e.g. %q", len(l), l[0])
	}
	if l := leaks(d.Output(), texts, tokens); len(l) > 0 {
		t.Fatalf("the daemon's debug log contains %d secrets, e.g. %q", len(l), l[0])
	}

	t.Logf("%d prompts/outputs and %d token ids in the log; %d request attributes exported; none leaked by convert, by the daemon (%d requests, %d spans) or in debug logs",
		len(texts), len(tokens), linked, c.Stats().Requests, c.Stats().Spans)
}

// TestResourceLimits: --max-file-size fails a larger file with a logged
// reason (and the daemon goes on), and --max-requests bounds the request
// timeline (requests_known never above it while a 60-request log is read).
func TestResourceLimits(t *testing.T) {
	t.Parallel()
	t.Run("max-file-size", func(t *testing.T) {
		c := testkit.StartCollector(t, otlptest.Options{})
		dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
		d := startChild(t, daemonArgs(dir, state, c, "--max-file-size", "100KiB"), nil)
		big := traceName(5, true)
		testkit.PlaceFile(t, filepath.Join(dir, big), testkit.ReadFile(t, smallTrace)) // 236 KiB
		testkit.WaitFor(t, "the large file failed", 30*time.Second, func() bool {
			_, err := os.Stat(filepath.Join(dir, "failed", big))
			return err == nil
		})
		if c.Stats().Spans != 0 {
			t.Fatal("spans of a file over --max-file-size were exported")
		}
		small := traceName(6, false)
		testkit.PlaceFile(t, filepath.Join(dir, small), []byte(trace(event())))
		testkit.WaitFor(t, "a small file exported afterwards", 30*time.Second, func() bool { return testkit.StateRecords(t, state)[small] == "exported" })
		t.Logf("reason logged: %s", firstLine(d.Output(), "trace file failed"))
		d.Stop(t)
	})
	t.Run("max-requests", func(t *testing.T) {
		log, _, _ := privateLog(t)
		logPath := filepath.Join(t.TempDir(), "vllm.log")
		if err := os.WriteFile(logPath, log, 0o644); err != nil {
			t.Fatal(err)
		}
		c := testkit.StartCollector(t, otlptest.Options{})
		dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
		metrics := testkit.FreeAddr(t)
		args := daemonArgs(dir, state, c, "--vllm-log", logPath, "--vllm-log-timezone", "UTC", "--max-requests", "5", "--metrics-addr", metrics)
		d := startChild(t, args, nil)
		known := func() float64 {
			resp, err := http.Get("http://" + metrics + "/metrics")
			if err != nil {
				return -1
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "vllm_otel_bridge_requests_known "); ok {
					f, _ := strconv.ParseFloat(v, 64)
					return f
				}
			}
			return -1
		}
		maxSeen := -1.0
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			maxSeen = max(maxSeen, known())
			time.Sleep(50 * time.Millisecond)
		}
		if maxSeen < 1 {
			t.Fatalf("requests_known never rose (max %v): the log was not read, the test proves nothing", maxSeen)
		}
		if maxSeen > 5 {
			t.Fatalf("requests_known reached %v with --max-requests 5", maxSeen)
		}
		d.Stop(t)
		t.Logf("60 requests in the log, --max-requests 5: requests_known peaked at %v", maxSeen)
	})
}
