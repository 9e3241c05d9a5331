package watcher

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

// root is one watched directory with its resolved side directories.
type root struct {
	dir      string // absolute, cleaned
	real     string // dir with symlinks resolved (for the symlink policy); "" if not resolvable yet
	exported string // absolute
	failed   string // absolute
}

func newRoot(dir, exported, failed string) (root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return root{}, fmt.Errorf("watcher: dir %q: %w", dir, err)
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
	return root{dir: abs, exported: side(exported, "exported"), failed: side(failed, "failed")}, nil
}

// found is one candidate trace file from a scan or an fsnotify event.
type found struct {
	path  string
	root  int
	info  tracefile.Info
	size  int64
	mtime time.Time
}

// skipDir says whether a recursive scan must not enter dir.
func (r *root) skipDir(path string) bool {
	switch filepath.Base(path) {
	case "exported", "failed", "capture_traces":
		return true
	}
	return path == r.exported || path == r.failed
}

// candidate decides whether path (found under root r) is a trace file to
// track. It returns ok=false and err=nil for names that are simply not
// ours, and an error with the reason for trace files that cannot be used
// (a symlink out of the directory, not a regular file).
func (w *Watcher) candidate(ri int, path string, d fs.FileInfo) (found, bool, error) {
	r := &w.roots[ri]
	rel, err := filepath.Rel(r.dir, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return found{}, false, nil
	}
	if tracefile.Ignored(filepath.ToSlash(rel)) {
		return found{}, false, nil
	}
	info, ok := tracefile.Parse(d.Name())
	if !ok {
		return found{}, false, nil
	}
	if d.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return found{}, false, &FileError{Op: "resolve symlink", Path: path, Err: err}
		}
		if !w.cfg.FollowSymlinks {
			if r.real == "" {
				if real, err := filepath.EvalSymlinks(r.dir); err == nil {
					r.real = real
				}
			}
			if !within(r.real, target) {
				return found{}, false, &FileError{Op: "resolve symlink", Path: path, Err: fmt.Errorf("%w: %s", ErrOutsideDir, target)}
			}
		}
		if d, err = os.Stat(target); err != nil {
			return found{}, false, &FileError{Op: "stat", Path: path, Err: err}
		}
	}
	if !d.Mode().IsRegular() {
		return found{}, false, &FileError{Op: "stat", Path: path, Err: fmt.Errorf("not a regular file (%v)", d.Mode().Type())}
	}
	return found{path: path, root: ri, info: info, size: d.Size(), mtime: d.ModTime()}, true, nil
}

func within(dir, p string) bool {
	if dir == "" {
		return false
	}
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// scanRoot lists root ri (recursively if configured) and calls visit for
// every trace file, problem for every trace file it cannot use, and dir
// for every directory it entered. A missing root is not an error: vLLM
// creates it on the first profile.
func (w *Watcher) scanRoot(ri int, visit func(found), problem func(path string, err error), dir func(string)) error {
	var walk func(string) error
	walk = func(d string) error {
		entries, err := os.ReadDir(d)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && d != w.roots[ri].dir {
				return nil // a subdirectory vanished mid-scan
			}
			return err
		}
		dir(d)
		for _, e := range entries {
			p := filepath.Join(d, e.Name())
			if e.IsDir() {
				if w.cfg.Recursive && !w.roots[ri].skipDir(p) && !tracefile.Ignored(e.Name()+"/x") {
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
			f, ok, err := w.candidate(ri, p, fi)
			switch {
			case err != nil:
				problem(p, err)
			case ok:
				visit(f)
			}
		}
		return nil
	}
	return walk(w.roots[ri].dir)
}

// sideFiles lists the trace files in a root's exported and failed
// directories (not recursive), for the disk budget.
func (w *Watcher) sideFiles(ri int) (exported, failed []found) {
	list := func(dir string) []found {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil
		}
		var out []found
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
			out = append(out, found{path: filepath.Join(dir, e.Name()), root: ri, info: info, size: fi.Size(), mtime: fi.ModTime()})
		}
		return out
	}
	r := w.roots[ri]
	return list(r.exported), list(r.failed)
}
