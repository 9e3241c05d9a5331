package tracefile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite testdata/names.golden")

// fixtureNames returns the file names of testdata/names.txt, one a line
// (blank lines and # comments left out): every era's shape, real names
// from fixtures and names that are not trace files. TestGolden pins what
// Parse makes of them, FuzzParse starts from them and BenchmarkParse
// times them.
func fixtureNames(tb testing.TB) []string {
	tb.Helper()
	in, err := os.ReadFile(filepath.Join("testdata", "names.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(in))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		names = append(names, line)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("testdata/names.txt: %v", err)
	}
	if len(names) == 0 {
		tb.Fatal("testdata/names.txt lists no names")
	}
	return names
}

// TestGolden parses every name in testdata/names.txt and compares Info and
// ResourceAttrs with testdata/names.golden.
func TestGolden(t *testing.T) {
	type result struct {
		Name  string
		OK    bool
		Info  *Info          `json:",omitempty"`
		Attrs map[string]any `json:",omitempty"`
	}
	var out []result
	for _, line := range fixtureNames(t) {
		info, ok := Parse(line)
		r := result{Name: line, OK: ok}
		if ok {
			r.Info = &info
			r.Attrs = map[string]any{}
			for _, a := range info.ResourceAttrs() {
				switch {
				case a.Value.Str != "":
					r.Attrs[a.Key] = a.Value.Str
				default:
					r.Attrs[a.Key] = a.Value.Num
				}
			}
		}
		out = append(out, r)
	}
	got, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	testkit.Golden(t, filepath.Join("testdata", "names.golden"), got, *update)
}
