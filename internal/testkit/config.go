package testkit

import (
	"errors"
	"os"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/configerr"
)

// CheckConfigKey fails t unless err is what a component's Validate must
// return for a config whose bad key is wantKey: a *configerr.Error naming
// that key (under the component's section) and wrapping
// configerr.ErrInvalid; for wantKey "", nil.
func CheckConfigKey(t testing.TB, err error, wantKey string) {
	t.Helper()
	if wantKey == "" {
		if err != nil {
			t.Fatalf("want a valid config, got %v", err)
		}
		return
	}
	var ce *configerr.Error
	if !errors.As(err, &ce) || !errors.Is(err, configerr.ErrInvalid) {
		t.Fatalf("got %v, want a *configerr.Error for %q", err, wantKey)
	}
	if ce.Key != wantKey {
		t.Fatalf("error names key %q (%v), want %q", ce.Key, err, wantKey)
	}
}

// YAMLCases reads path, a YAML mapping from case names to test documents
// (configs as a user writes them), and returns each case's node, failing t
// if the file cannot be read or is not such a mapping.
func YAMLCases(t testing.TB, path string) map[string]yaml.Node {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]yaml.Node
	if err := yaml.Unmarshal(b, &cases); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cases
}

// ConfigCase is one edit of a valid config and the key that validating the
// result must name ("" = still valid).
type ConfigCase[C any] struct {
	Name   string
	Modify func(*C)
	Key    string
}

// CheckConfigCases runs each case as a subtest: a fresh base() edited by
// Modify, then check (the component's Validate, or more) must return what
// CheckConfigKey expects for Key.
func CheckConfigCases[C any](t *testing.T, base func() C, check func(C) error, cases []ConfigCase[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			c := base()
			tc.Modify(&c)
			CheckConfigKey(t, check(c), tc.Key)
		})
	}
}
