package capture

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The state file round-trips, leaves no temporary file behind, and a
// corrupt one stops New with an error that says what to do.
func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	s := stateStore{path: filepath.Join(dir, "sub", "capture.json")}
	if d, err := s.load(); err != nil || d.InFlight != nil {
		t.Fatalf("missing file: %+v %v", d, err)
	}
	v := 2.5
	in := &Capture{ID: "cap-1", Trigger: "t", Reason: "t: p99(x)=2.5 > 2", Value: &v, State: StateRunning, Duration: Duration(20 * time.Second),
		Started: time.Unix(1700000000, 0).UTC()}
	if err := s.save(stateDoc{InFlight: in, Recent: []Capture{{ID: "cap-0", State: StateDone, Files: []string{"/p/a.pt.trace.json.gz"}}}}); err != nil {
		t.Fatal(err)
	}
	d, err := s.load()
	if err != nil || d.InFlight == nil || d.InFlight.ID != "cap-1" || *d.InFlight.Value != 2.5 || time.Duration(d.InFlight.Duration) != 20*time.Second ||
		len(d.Recent) != 1 || d.Recent[0].Files[0] != "/p/a.pt.trace.json.gz" {
		t.Fatalf("round trip: %+v %v", d, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(s.path))
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only the state file", len(ents))
	}
	if err := os.WriteFile(s.path, []byte(`{"version":1,"in_flight":{`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.VLLMURL = "http://127.0.0.1:1"
	cfg.StateFile = s.path
	_, err = New(cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "stop_profile") || !strings.Contains(err.Error(), s.path) {
		t.Fatalf("corrupt state: %v", err)
	}
}
