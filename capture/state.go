package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// stateVersion is the state file's format.
const stateVersion = 1

// maxRecent bounds the captures kept in memory and in the state file.
const maxRecent = 64

// stateDoc is the state file: the capture in flight (vLLM's profiler may
// be on) and the recent ones, so that a restarted bridge stops the first
// and can still tell which capture a late trace file came from.
type stateDoc struct {
	Version  int       `json:"version"`
	InFlight *Capture  `json:"in_flight,omitempty"`
	Recent   []Capture `json:"recent,omitempty"`
}

// stateStore reads and atomically writes the state file.
type stateStore struct{ path string }

// load returns the saved state; a missing file is an empty state.
func (s stateStore) load() (stateDoc, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return stateDoc{Version: stateVersion}, nil
	}
	if err != nil {
		return stateDoc{}, fmt.Errorf("capture state %s: %w", s.path, err)
	}
	var d stateDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return stateDoc{}, fmt.Errorf("capture state %s: %w", s.path, err)
	}
	if d.Version != stateVersion {
		return stateDoc{}, fmt.Errorf("capture state %s: version %d, want %d", s.path, d.Version, stateVersion)
	}
	return d, nil
}

// save writes d to a temporary file in the same directory, fsyncs it,
// renames it over the state file and fsyncs the directory, so a crash
// leaves either the old or the new state, never a torn one.
func (s stateStore) save(d stateDoc) error {
	d.Version = stateVersion
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("capture state: encode: %w", err)
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("capture state: %w", err)
	}
	f, err := os.CreateTemp(dir, ".capture-state-*.tmp")
	if err != nil {
		return fmt.Errorf("capture state: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("capture state: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("capture state: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("capture state: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("capture state: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
