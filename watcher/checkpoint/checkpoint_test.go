package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadV1(t *testing.T) {
	recs, err := Load(filepath.Join("testdata", "v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{
			Fingerprint: "xxh64:0011223344556677:8899aabbccddeeff:85123456", Size: 1943890,
			Path:    "/prof/dp0_pp0_tp0_dcp0_ep0_rank0.1795789278257156267.pt.trace.json.gz",
			ModTime: 1795789280000000000, Status: StatusExported,
			At:       time.Date(2026, 11, 27, 9, 59, 0, 0, time.UTC),
			LastSeen: time.Date(2026, 11, 27, 9, 59, 30, 0, time.UTC),
		},
		{
			Fingerprint: "xxh64:1111111111111111:2222222222222222:10", Size: 10,
			Path: "/prof/bad.1795789278257156268.pt.trace.json", ModTime: 1795789281000000000,
			Status: StatusFailed, Reason: "converter: malformed JSON at offset 3",
			At:       time.Date(2026, 11, 27, 9, 59, 10, 0, time.UTC),
			LastSeen: time.Date(2026, 11, 27, 9, 59, 30, 0, time.UTC),
		},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("Load\n got %+v\nwant %+v", recs, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		is   error
	}{
		{"newer version", `{"version": 7, "records": []}`, ErrUnsupportedVersion},
		{"no version", `{"records": []}`, ErrCorrupt},
		{"version zero", `{"version": 0}`, ErrCorrupt},
		{"not json", `{"version": 1, "records": [`, ErrCorrupt},
		{"wrong shape", `{"version": 1, "records": {"a": 1}}`, ErrCorrupt},
		{"array", `[]`, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode("state.json", []byte(tt.data))
			if !errors.Is(err, tt.is) {
				t.Fatalf("Decode error = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), "state.json") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	var ve *VersionError
	if _, err := Decode("s", []byte(`{"version": 9}`)); !errors.As(err, &ve) || ve.Version != 9 {
		t.Errorf("want *VersionError with version 9, got %v", err)
	}
}

func TestLoadMissingAndEmpty(t *testing.T) {
	dir := t.TempDir()
	recs, err := Load(filepath.Join(dir, "nope.json"))
	if err != nil || recs != nil {
		t.Fatalf("missing file: %v, %v", recs, err)
	}
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, []byte("\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(empty); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("empty file: want ErrCorrupt, got %v", err)
	}
	if _, err := Load(dir); err == nil {
		t.Fatal("loading a directory: want an error")
	}
}

func TestSaveRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "state.json") // directory created on demand
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	recs := []Record{
		{Fingerprint: "xxh64:a", Size: 1, Path: "/p/a", ModTime: 5, Status: StatusExported, At: now, LastSeen: now},
		{Fingerprint: "xxh64:b", Size: 2, Path: "/p/b", ModTime: 6, Status: StatusFailed, Reason: "bad", At: now, LastSeen: now},
	}
	for round := 0; round < 2; round++ { // the second save replaces the first
		if err := Save(path, recs, now); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, recs) {
			t.Fatalf("round %d\n got %+v\nwant %+v", round, got, recs)
		}
		recs = recs[:1]
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "state.json" {
		t.Errorf("directory holds %v, want only state.json (no temporary files left)", entries)
	}
	if err := Save(path, nil, now); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(path); err != nil || len(got) != 0 {
		t.Errorf("empty save: %v, %v", got, err)
	}
}

func TestSaveFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	// A regular file where the state directory should be: no user, root
	// included, can create files under it.
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Save(filepath.Join(blocker, "state.json"), nil, time.Now()); err == nil {
		t.Fatal("Save under a regular file: want an error")
	} else if !strings.Contains(err.Error(), "checkpoint: save") {
		t.Errorf("error %q does not say what failed", err)
	}

	// Renaming over a directory fails after the temporary file was written;
	// the temporary file must be cleaned up.
	target := filepath.Join(dir, "isdir.json")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Save(target, nil, time.Now()); err == nil {
		t.Fatal("Save over a directory: want an error")
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".isdir.json.tmp-*"))
	if len(matches) != 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
}
