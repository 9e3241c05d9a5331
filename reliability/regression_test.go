package reliability

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/otlptest"
	"github.com/vllm-otel-bridge/vllm-otel-bridge/internal/testkit"
)

// TestStateSavedOnceDirWritable: after "exported but could not record it",
// the running daemon must record the file once the directory is writable,
// without a restart. (Regression: the file used to stay in flight until a
// restart.)
func TestStateSavedOnceDirWritable(t *testing.T) {
	t.Parallel()
	rs := startReadOnlyState(t)
	d, stateDir, state, name := rs.d, rs.stateDir, rs.state, rs.name
	testkit.WaitFor(t, "the save failure", 30*time.Second, func() bool { return firstLine(d.Output(), "could not record it") != "" })
	if err := os.Chmod(stateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the running daemon to record the file once its state directory is writable", 30*time.Second,
		func() bool { return testkit.StateRecords(t, state)[name] == "exported" })
	d.Stop(t)
}

// TestOversizeSpanSettles: a file whose only problem is one huge string
// ends exported (the value cut to the converter's limit), not re-read and
// re-converted for ever. (Regression: the span used to exceed every
// receiver's limit.)
func TestOversizeSpanSettles(t *testing.T) {
	t.Parallel()
	c := testkit.StartCollector(t, otlptest.Options{})
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state.json")
	var bc badCase
	for _, x := range badCases(t) {
		if x.name == "a name of 10 MB" {
			bc = x
		}
	}
	if bc.name == "" {
		t.Fatal(`no bad case named "a name of 10 MB"`)
	}
	name := traceName(1, false)
	writeCase(t, bc, filepath.Join(dir, name))
	d := startChild(t, daemonArgs(dir, state, c), nil)
	testkit.WaitFor(t, "the file exported", 60*time.Second, func() bool { return testkit.StateRecords(t, state)[name] == "exported" })
	d.Stop(t)
}
