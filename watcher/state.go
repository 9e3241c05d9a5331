package watcher

import (
	"sort"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher/checkpoint"
)

// maxRecords bounds the state file; the records seen longest ago go first.
const maxRecords = 100_000

// stateKey identifies file content: fingerprint and size on disk.
type stateKey struct {
	fp   string
	size int64
}

// store is the in-memory index of the state file. The Watcher's mutex
// guards it.
type store struct {
	path  string
	recs  map[stateKey]*checkpoint.Record
	paths map[string]stateKey
	dirty bool
	gen   uint64 // rescan generation
}

func loadStore(path string) (*store, error) {
	recs, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	s := &store{path: path, recs: make(map[stateKey]*checkpoint.Record, len(recs)), paths: make(map[string]stateKey, len(recs))}
	for i := range recs {
		r := recs[i]
		s.set(&r)
	}
	return s, nil
}

func (s *store) set(r *checkpoint.Record) {
	k := stateKey{r.Fingerprint, r.Size}
	if old, ok := s.recs[k]; ok && s.paths[old.Path] == k {
		delete(s.paths, old.Path)
	}
	s.recs[k] = r
	s.paths[r.Path] = k
}

func (s *store) lookup(k stateKey) (checkpoint.Record, bool) {
	r, ok := s.recs[k]
	if !ok {
		return checkpoint.Record{}, false
	}
	return *r, true
}

// byPath finds a record made for this very path, size and mtime.
func (s *store) byPath(path string, size int64, mtime time.Time) (checkpoint.Record, bool) {
	k, ok := s.paths[path]
	if !ok {
		return checkpoint.Record{}, false
	}
	r := s.recs[k]
	if r == nil || r.Size != size || r.ModTime != mtime.UnixNano() {
		return checkpoint.Record{}, false
	}
	return *r, true
}

// touch notes that the record's file is still on disk. It is persisted
// with the next save, not on its own.
func (s *store) touch(k stateKey, now time.Time) {
	if r, ok := s.recs[k]; ok {
		r.LastSeen = now.UTC()
	}
}

// rename notes that the record's file now lives at path.
func (s *store) rename(k stateKey, path string, mtime time.Time) {
	r, ok := s.recs[k]
	if !ok || (r.Path == path && r.ModTime == mtime.UnixNano()) {
		return
	}
	if s.paths[r.Path] == k {
		delete(s.paths, r.Path)
	}
	r.Path, r.ModTime = path, mtime.UnixNano()
	s.paths[path] = k
	s.dirty = true
}

// put adds or replaces a record and saves at once. On a save error the
// index is rolled back, so memory never claims more than the disk.
func (s *store) put(r checkpoint.Record, now time.Time) error {
	k := stateKey{r.Fingerprint, r.Size}
	old, had := s.recs[k]
	var oldCopy checkpoint.Record
	if had {
		oldCopy = *old
	}
	s.set(&r)
	if err := s.save(now); err != nil {
		delete(s.paths, r.Path)
		delete(s.recs, k)
		if had {
			s.set(&oldCopy)
		}
		return err
	}
	return nil
}

// prune drops records whose file was last seen before cutoff, and the
// oldest beyond maxRecords.
func (s *store) prune(cutoff time.Time) {
	for k, r := range s.recs {
		if r.LastSeen.Before(cutoff) {
			s.remove(k)
		}
	}
	if len(s.recs) <= maxRecords {
		return
	}
	all := s.sorted()
	sort.SliceStable(all, func(i, j int) bool { return all[i].LastSeen.Before(all[j].LastSeen) })
	for _, r := range all[:len(all)-maxRecords] {
		s.remove(stateKey{r.Fingerprint, r.Size})
	}
}

func (s *store) remove(k stateKey) {
	if r, ok := s.recs[k]; ok {
		if s.paths[r.Path] == k {
			delete(s.paths, r.Path)
		}
		delete(s.recs, k)
		s.dirty = true
	}
}

// sorted returns the records in a stable order (by path, then key).
func (s *store) sorted() []checkpoint.Record {
	out := make([]checkpoint.Record, 0, len(s.recs))
	for _, r := range s.recs {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		if out[i].Fingerprint != out[j].Fingerprint {
			return out[i].Fingerprint < out[j].Fingerprint
		}
		return out[i].Size < out[j].Size
	})
	return out
}

func (s *store) save(now time.Time) error {
	if err := checkpoint.Save(s.path, s.sorted(), now); err != nil {
		s.dirty = true
		return err
	}
	s.dirty = false
	return nil
}

func (s *store) saveIfDirty(now time.Time) error {
	if !s.dirty {
		return nil
	}
	return s.save(now)
}
