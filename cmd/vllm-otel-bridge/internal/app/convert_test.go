package app

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/convtest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/otlp/otlpjson"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb, func(string) string { return "" })
	return code, out.String(), errb.String()
}

func TestConvertWritesOTLPJSONAndSummary(t *testing.T) {
	out := filepath.Join(t.TempDir(), "spans.jsonl")
	code, stdout, stderr := runMain("convert", "-o", out, smallTrace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := convtest.SpanIDs(t, smallTrace)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]bool{}
	steps := 0
	err = otlpjson.ReadJSONLines(f, func(req *coltracepb.ExportTraceServiceRequest) error {
		for _, rs := range req.ResourceSpans {
			svc := ""
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					svc = a.Value.GetStringValue()
				}
			}
			if svc != "vllm" {
				t.Errorf("service.name %q, want vllm", svc)
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					got[string(s.SpanId)] = true
					if strings.HasPrefix(s.Name, "vllm.step.") && len(s.ParentSpanId) == 0 {
						steps++
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("file holds %d spans, converter made %d", len(got), len(want))
	}
	if steps != 3 {
		t.Errorf("%d step roots, want 3", steps)
	}
	for _, s := range []string{"3 steps + profile", "exported 8187 spans"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("summary lacks %q:\n%s", s, stdout)
		}
	}
}

func TestConvertWithSpillDirGivesTheSameSpans(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	spill := filepath.Join(dir, "spill")
	if err := os.Mkdir(spill, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"convert", "--summary=false", "--spill-dir", "off", "-o", a, smallTrace}, {"convert", "--summary=false", "--spill-dir", spill, "-o", b, smallTrace}} {
		if code, _, stderr := runMain(args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
	}
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if len(ba) == 0 || !bytes.Equal(ba, bb) {
		t.Fatalf("output differs with --spill-dir off and with a spill directory (%d vs %d bytes)", len(ba), len(bb))
	}
	if left, _ := os.ReadDir(spill); len(left) != 0 {
		t.Fatalf("spill files left behind: %v", left)
	}
}

func TestConvertToStdoutKeepsSummaryOffStdout(t *testing.T) {
	code, stdout, stderr := runMain("convert", "-o", "-", smallTrace)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 64<<20)
	lines := 0
	for sc.Scan() {
		lines++
		if _, err := otlpjson.Unmarshal(sc.Bytes()); err != nil {
			t.Fatalf("stdout line is not OTLP/JSON: %v", err)
		}
	}
	if lines == 0 {
		t.Fatal("nothing written to stdout")
	}
	if !strings.Contains(stderr, "exported") {
		t.Errorf("summary should go to stderr: %q", stderr)
	}
}

func TestConvertBadInputNamesFileAndReason(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content, reason string
	}{
		{"empty.pt.trace.json", "", "truncated"},
		{"notjson.pt.trace.json", "hello", "malformed"},
		{"notkineto.pt.trace.json", `{"a": 1}`, "not a kineto trace"},
		{"cut.pt.trace.json.gz", string(gz(`{"traceEvents": [`)[:20]), "truncated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := runMain("convert", "--summary=false", "-o", filepath.Join(dir, "out.jsonl"), p)
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 {
				t.Fatalf("want a one-line error, got %q", stderr)
			}
			if !strings.Contains(lines[0], p) || !strings.Contains(lines[0], tc.reason) {
				t.Fatalf("error %q should name %s and say %q", lines[0], p, tc.reason)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		code, _, stderr := runMain("convert", "-o", filepath.Join(dir, "o.jsonl"), filepath.Join(dir, "nope.json"))
		if code != 1 || !strings.Contains(stderr, "nope.json") {
			t.Fatalf("exit %d, %q", code, stderr)
		}
	})
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "Usage"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"convert"}, "convert needs at least one trace file (see convert -h)"},
		{[]string{"inspect"}, "inspect needs at least one trace file (see inspect -h)"},
		{[]string{"convert", "--timezone", "Mars/Olympus", "-o", "x", smallTrace}, "--timezone"},
		{[]string{"inspect", "--timezone", "Mars/Olympus", smallTrace}, "--timezone"},
		{[]string{"convert", "--log-level", "loud", "-o", "x", smallTrace}, "loud"},
		{[]string{"inspect", "--log-level", "loud", smallTrace}, "loud"},
		{[]string{"inspect", "--no-such-flag", smallTrace}, "no-such-flag"},
		{[]string{"convert", smallTrace}, "-o FILE"},
		{[]string{"convert", "--protocol", "smoke", "-o", "x", smallTrace}, "output.protocol"},
		{[]string{"run"}, "profiler.dirs"},
		{[]string{"run", "--profiler-dir", "/x", "--after-export", "shred"}, "profiler.after_export"},
		{[]string{"run", "--config", "testdata/nope.yaml"}, "nope.yaml"},
	}
	for _, tc := range tests {
		code, _, stderr := runMain(tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want non-zero and %q", tc.args, code, stderr, tc.want)
		}
	}
	if code, stdout, _ := runMain("version"); code != 0 || !strings.HasPrefix(stdout, "vllm-otel-bridge ") {
		t.Errorf("version: %d %q", code, stdout)
	}
}

func TestOpenSpill(t *testing.T) {
	dir := t.TempDir()
	f, err := openSpill(dir)
	if err != nil || f == nil {
		t.Fatalf("openSpill(%q) = %v, %v", dir, f, err)
	}
	defer f.Close()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("the scratch file is not unlinked at once: %v", left)
	}
	if _, err := f.WriteAt([]byte("scratch"), 1<<20); err != nil {
		t.Fatalf("writing the unlinked scratch file: %v", err)
	}
	if f, err := openSpill("off"); f != nil || err != nil {
		t.Fatalf(`openSpill("off") = %v, %v; want in memory`, f, err)
	}
	if f, err := openSpill(filepath.Join(dir, "missing")); f != nil || err == nil {
		t.Fatalf("a named directory that does not exist: %v, %v; want an error", f, err)
	}
	t.Setenv("TMPDIR", filepath.Join(dir, "missing"))
	if f, err := openSpill(""); f != nil || err != nil {
		t.Fatalf("default temp dir unusable: %v, %v; want in memory, no error", f, err)
	}
}

// TestConvertOutputReplacesOrAppends: -o FILE replaces FILE (converting
// twice gives the same file, not twice the spans), atomically (a failed
// convert leaves the old FILE and no temporary file); --append adds.
func TestConvertOutputReplacesOrAppends(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "spans.jsonl")
	convert := func(extra ...string) (int, string, string) {
		return runMain(append(append([]string{"convert"}, extra...), "-o", out, smallTrace)...)
	}
	read := func() []byte {
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if code, stdout, stderr := convert(); code != 0 || !strings.Contains(stdout, "books balanced: ") {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	first := read()
	if code, _, stderr := convert(); code != 0 {
		t.Fatalf("second convert: exit %d: %s", code, stderr)
	}
	if second := read(); !bytes.Equal(first, second) {
		t.Fatalf("converting twice: %d bytes, then %d; want the same file", len(first), len(second))
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v; want 0644", fi.Mode(), err)
	}

	bad := filepath.Join(dir, "cut.pt.trace.json")
	if err := os.WriteFile(bad, []byte(`{"traceEvents": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runMain("convert", "-o", out, smallTrace, bad)
	if code != 1 || !strings.Contains(stdout, "left as it was") {
		t.Fatalf("a failed input: exit %d, %s", code, stdout)
	}
	if got := read(); !bytes.Equal(got, first) {
		t.Fatalf("a failed convert changed %s (%d bytes, was %d)", out, len(got), len(first))
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "spans.jsonl" && e.Name() != "cut.pt.trace.json" {
			t.Errorf("left behind: %s", e.Name())
		}
	}

	if code, _, stderr := convert("--append"); code != 0 {
		t.Fatalf("--append: exit %d: %s", code, stderr)
	}
	if got := read(); !bytes.Equal(got, append(bytes.Clone(first), first...)) {
		t.Fatalf("--append: %d bytes, want the old %d twice", len(got), len(first))
	}
}

// TestConvertForwardsOTLPRequestSpans checks issue 12 items 1 and 5 on
// convert -o: the llm_request spans (and their callers' spans) of an
// OTLP/JSON --requests file come out once each and unchanged, so no
// request-step span lacks its parent; the bridge's spans carry this
// host's host.name unless --resource-attributes names another.
func TestConvertForwardsOTLPRequestSpans(t *testing.T) {
	const requests = "../../../../testdata/h100/llm_request.otlp.json"
	raw, err := os.ReadFile(requests)
	if err != nil {
		t.Fatal(err)
	}
	given, err := otlpjson.UnmarshalOptions{Base64IDs: true}.Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*tracepb.Span{}
	for _, rs := range given.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				want[string(s.TraceId)+string(s.SpanId)] = s
			}
		}
	}
	if len(want) < 100 {
		t.Fatalf("fixture holds %d spans", len(want))
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, wantHost string
		extra          []string
	}{{"os.Hostname", host, nil}, {"overridden", "node-7", []string{"--resource-attributes", "host.name=node-7"}}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "spans.jsonl")
			args := append([]string{"convert", "--summary=false", "-o", out, "--requests", requests}, tc.extra...)
			if code, _, stderr := runMain(append(args, smallTrace)...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			seen := map[string]int{}
			parents := map[string]string{} // span key -> parent key
			stepSpans := 0
			err = otlpjson.ReadJSONLines(f, func(req *coltracepb.ExportTraceServiceRequest) error {
				for _, rs := range req.ResourceSpans {
					attrs := map[string]string{}
					for _, a := range rs.Resource.Attributes {
						attrs[a.Key] = a.Value.GetStringValue()
					}
					for _, ss := range rs.ScopeSpans {
						for _, s := range ss.Spans {
							k := string(s.TraceId) + string(s.SpanId)
							seen[k]++
							if len(s.ParentSpanId) > 0 {
								parents[k] = string(s.TraceId) + string(s.ParentSpanId)
							}
							if w := want[k]; w != nil {
								if !proto.Equal(w, s) {
									t.Errorf("forwarded span %q changed:\n got %v\nwant %v", s.Name, s, w)
								}
								continue
							}
							if s.Name == "vllm.request.step" {
								stepSpans++
							}
							if attrs["service.name"] == "vllm" && attrs["host.name"] != tc.wantHost {
								t.Errorf("bridge span %q: host.name %q, want %q", s.Name, attrs["host.name"], tc.wantHost)
							}
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for k := range want {
				if seen[k] != 1 {
					t.Errorf("given span %x written %d times, want once", k, seen[k])
				}
			}
			for k, p := range parents {
				if seen[p] == 0 {
					t.Errorf("span %x: parent %x not in the output (an orphan)", k, p)
				}
				if seen[k] > 1 {
					t.Errorf("span %x written %d times", k, seen[k])
				}
			}
			if stepSpans == 0 {
				t.Error("no vllm.request.step spans: the steps were not linked to the given requests")
			}
		})
	}
}

func TestLinkerResourceHostName(t *testing.T) {
	for _, tc := range []struct {
		host  string
		attrs map[string]string
		want  []string // key=value
	}{
		{"vm", nil, []string{"service.name=svc", "host.name=vm"}},
		{"vm", map[string]string{"host.name": "node-7", "team": "x"}, []string{"service.name=svc", "host.name=node-7"}},
		{"", nil, []string{"service.name=svc"}},
	} {
		r := linkerResource("svc", tc.host, tc.attrs)
		var got []string
		for _, a := range r.Attrs {
			got = append(got, a.Key+"="+a.Value.Str)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("linkerResource(svc, %q, %v) = %v, want %v", tc.host, tc.attrs, got, tc.want)
		}
	}
}
