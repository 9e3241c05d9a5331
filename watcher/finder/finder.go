package finder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/tracefile"
)

// ErrOutsideDir means a symlink resolves outside its watched directory
// and FollowSymlinks is off.
var ErrOutsideDir = errors.New("symlink points outside the watched directory")

// ErrNotRegular means a trace-file name belongs to something that is not a
// regular file (a directory, a FIFO, a device).
var ErrNotRegular = errors.New("not a regular file")

// Root is one watched directory with its side directories, all absolute.
type Root struct {
	Dir      string
	Exported string // where exported files are moved
	Failed   string // where failed files are moved
	real     string // Dir with symlinks resolved, once known
}

// NewRoot makes dir absolute and resolves the side directories: empty
// means "<dir>/exported" or "<dir>/failed", a relative path is taken
// relative to dir.
func NewRoot(dir, exported, failed string) (Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Root{}, fmt.Errorf("finder: dir %q: %w", dir, err)
	}
	side := func(p, def string) string {
		switch {
		case p == "":
			return filepath.Join(abs, def)
		case filepath.IsAbs(p):
			return filepath.Clean(p)
		}
		return filepath.Join(abs, p)
	}
	return Root{Dir: abs, Exported: side(exported, "exported"), Failed: side(failed, "failed")}, nil
}

// SkipDir says whether a recursive scan must not enter path.
func (r *Root) SkipDir(path string) bool {
	switch filepath.Base(path) {
	case "exported", "failed", "capture_traces":
		return true
	}
	return path == r.Exported || path == r.Failed
}

// Found is one trace file.
type Found struct {
	Path    string // absolute; for a symlink, the link's path
	Root    int    // index into Finder.Roots
	Info    tracefile.Info
	Size    int64
	ModTime time.Time
}

// Finder lists trace files under its roots.
type Finder struct {
	Roots          []Root
	Recursive      bool
	FollowSymlinks bool
}

// RootOf returns the index of the root that contains path, or -1.
func (f *Finder) RootOf(path string) int {
	for i := range f.Roots {
		if Within(f.Roots[i].Dir, path) {
			return i
		}
	}
	return -1
}

// Candidate decides whether path, found under root ri with lstat result
// fi, is a trace file. It returns ok=false, err=nil for names that are not
// ours, and an error saying why for trace-file names that cannot be used:
// a symlink out of the directory (ErrOutsideDir), a dangling symlink, not
// a regular file (ErrNotRegular). Errors are *fs.PathError.
func (f *Finder) Candidate(ri int, path string, fi fs.FileInfo) (Found, bool, error) {
	r := &f.Roots[ri]
	rel, err := filepath.Rel(r.Dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return Found{}, false, nil
	}
	if tracefile.Ignored(filepath.ToSlash(rel)) {
		return Found{}, false, nil
	}
	info, ok := tracefile.Parse(fi.Name())
	if !ok {
		return Found{}, false, nil
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return Found{}, false, &fs.PathError{Op: "resolve symlink", Path: path, Err: err}
		}
		if !f.FollowSymlinks {
			if r.real == "" {
				if real, err := filepath.EvalSymlinks(r.Dir); err == nil {
					r.real = real
				}
			}
			if !Within(r.real, target) {
				return Found{}, false, &fs.PathError{Op: "resolve symlink", Path: path, Err: fmt.Errorf("%w: %s", ErrOutsideDir, target)}
			}
		}
		if fi, err = os.Stat(target); err != nil {
			return Found{}, false, &fs.PathError{Op: "stat", Path: path, Err: err}
		}
	}
	if !fi.Mode().IsRegular() {
		return Found{}, false, &fs.PathError{Op: "stat", Path: path, Err: fmt.Errorf("%w (%v)", ErrNotRegular, fi.Mode().Type())}
	}
	return Found{Path: path, Root: ri, Info: info, Size: fi.Size(), ModTime: fi.ModTime()}, true, nil
}

// Within reports whether p is dir or below it (both cleaned, absolute).
func Within(dir, p string) bool {
	if dir == "" {
		return false
	}
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Scan lists root ri (recursively if configured) and calls visit for every
// trace file, problem for every trace-file name it cannot use and for
// subdirectories it cannot list, and dir for every directory it listed.
// It returns an error only when the root itself cannot be listed (for a
// missing root, one matching fs.ErrNotExist: vLLM creates it on the first
// profile).
func (f *Finder) Scan(ri int, visit func(Found), problem func(path string, err error), dir func(string)) error {
	var walk func(string) error
	walk = func(d string) error {
		entries, err := os.ReadDir(d)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && d != f.Roots[ri].Dir {
				return nil // a subdirectory vanished mid-scan
			}
			return err
		}
		dir(d)
		for _, e := range entries {
			p := filepath.Join(d, e.Name())
			if e.IsDir() {
				if f.Recursive && !f.Roots[ri].SkipDir(p) {
					if err := walk(p); err != nil {
						problem(p, err)
					}
				}
				continue
			}
			if _, ok := tracefile.Parse(e.Name()); !ok {
				continue // cheap reject before any syscall
			}
			fi, err := e.Info()
			if err != nil {
				continue // vanished between ReadDir and lstat
			}
			found, ok, err := f.Candidate(ri, p, fi)
			switch {
			case err != nil:
				problem(p, err)
			case ok:
				visit(found)
			}
		}
		return nil
	}
	return walk(f.Roots[ri].Dir)
}

// SideFiles lists the trace files directly in root ri's exported and
// failed directories (for the disk budget).
func (f *Finder) SideFiles(ri int) (exported, failed []Found) {
	list := func(dir string) []Found {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil
		}
		var out []Found
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			info, ok := tracefile.Parse(e.Name())
			if !ok {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			out = append(out, Found{Path: filepath.Join(dir, e.Name()), Root: ri, Info: info, Size: fi.Size(), ModTime: fi.ModTime()})
		}
		return out
	}
	r := f.Roots[ri]
	return list(r.Exported), list(r.Failed)
}
