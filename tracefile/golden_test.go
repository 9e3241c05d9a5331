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

// TestGolden parses every name in testdata/names.txt and compares Info and
// ResourceAttrs with testdata/names.golden.
func TestGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "names.txt"))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		Name  string
		OK    bool
		Info  *Info          `json:",omitempty"`
		Attrs map[string]any `json:",omitempty"`
	}
	var out []result
	sc := bufio.NewScanner(bytes.NewReader(in))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
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
