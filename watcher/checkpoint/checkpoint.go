package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Version is the encoding version Save writes.
const Version = 1

// Status is what happened to a file.
type Status string

// Statuses a record may have.
const (
	StatusExported Status = "exported" // every batch acknowledged by the backend
	StatusFailed   Status = "failed"   // permanently unreadable or malformed
)

// Record is one file's outcome. A file on disk is the recorded file when its
// Fingerprint and Size match, wherever it now lives.
type Record struct {
	Fingerprint string    `json:"fingerprint"`
	Size        int64     `json:"size"`
	Path        string    `json:"path"`     // where it was when recorded
	ModTime     int64     `json:"mtime_ns"` // Unix ns, when recorded
	Status      Status    `json:"status"`
	Reason      string    `json:"reason,omitempty"` // why it failed
	At          time.Time `json:"at"`               // when recorded
	LastSeen    time.Time `json:"last_seen"`        // last time a scan found it on disk
}

// ErrUnsupportedVersion is wrapped by a *VersionError.
var ErrUnsupportedVersion = errors.New("unsupported state file version")

// ErrCorrupt is wrapped when a state file is not valid JSON of the expected
// shape.
var ErrCorrupt = errors.New("corrupt state file")

// VersionError reports a state file written by a newer version.
type VersionError struct {
	Path    string
	Version int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("checkpoint %s: version %d is newer than %d, which this build reads", e.Path, e.Version, Version)
}

// Unwrap lets errors.Is match ErrUnsupportedVersion.
func (e *VersionError) Unwrap() error { return ErrUnsupportedVersion }

type fileV1 struct {
	Version int       `json:"version"`
	Saved   time.Time `json:"saved"`
	Records []Record  `json:"records"`
}

// Decode parses a state file's bytes. path is used only in errors.
func Decode(path string, data []byte) ([]Record, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w: %w", path, ErrCorrupt, err)
	}
	if head.Version == nil {
		return nil, fmt.Errorf("checkpoint %s: %w: no version field", path, ErrCorrupt)
	}
	switch v := *head.Version; {
	case v == 1:
		var f fileV1
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w: %w", path, ErrCorrupt, err)
		}
		out := f.Records[:0]
		for _, r := range f.Records {
			if r.Fingerprint == "" || (r.Status != StatusExported && r.Status != StatusFailed) {
				continue // a record we cannot match or act on is dropped, not fatal
			}
			out = append(out, r)
		}
		return out, nil
	case v > Version:
		return nil, &VersionError{Path: path, Version: v}
	default:
		return nil, fmt.Errorf("checkpoint %s: %w: version %d", path, ErrCorrupt, v)
	}
}

// Encode renders records in the current version.
func Encode(records []Record, saved time.Time) ([]byte, error) {
	if records == nil {
		records = []Record{}
	}
	b, err := json.MarshalIndent(fileV1{Version: Version, Saved: saved.UTC(), Records: records}, "", " ")
	if err != nil {
		return nil, fmt.Errorf("checkpoint: encode: %w", err)
	}
	return append(b, '\n'), nil
}

// Load reads the state file at path. A file that does not exist yields no
// records and no error (the first start).
func Load(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: load: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("checkpoint %s: %w: empty file", path, ErrCorrupt)
	}
	return Decode(path, data)
}

// Save writes records to path atomically: temporary file in the same
// directory, fsync, rename, fsync of the directory. The directory is
// created if missing. On error the previous file is left as it was.
func Save(path string, records []Record, now time.Time) (err error) {
	data, err := Encode(records, now)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: save: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("checkpoint: save: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("checkpoint: save: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("checkpoint: save: fsync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("checkpoint: save: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint: save: close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("checkpoint: save: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("checkpoint: save: fsync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("checkpoint: save: fsync dir %s: %w", dir, err)
	}
	return nil
}
