package finder

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"syscall"
	"testing"
)

const name0 = "dp0_pp0_tp0_dcp0_ep0_rank0.1795789272000000001.pt.trace.json.gz"

func mk(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tree builds a watched directory with one of everything, and returns it
// and a directory outside it.
func tree(t *testing.T) (dir, outside string) {
	dir, outside = t.TempDir(), t.TempDir()
	for _, p := range []string{
		name0,
		"host_1.1795789272000000002.pt.trace.json",
		"host_1.1795789272000000003.pt.trace.json.tmp",
		"profiler_out_0.txt",
		"README.md",
		"sub/rank1.1795789272000000004.pt.trace.json.gz",
		"sub/deeper/rank2.1795789272000000005.pt.trace.json.gz",
		"exported/rank3.1795789272000000006.pt.trace.json.gz",
		"failed/rank4.1795789272000000007.pt.trace.json.gz",
		"capture_traces/rank5.1795789272000000008.pt.trace.json.gz",
		"archive/rank6.1795789272000000009.pt.trace.json.gz", // the configured exported dir
	} {
		mk(t, filepath.Join(dir, p))
	}
	mk(t, filepath.Join(outside, "target.json"))
	mk(t, filepath.Join(dir, "real", "inside.json"))
	must(t, os.Symlink(filepath.Join(outside, "target.json"), filepath.Join(dir, "out_1.1795789272000000010.pt.trace.json")))
	must(t, os.Symlink(filepath.Join(dir, "real", "inside.json"), filepath.Join(dir, "in_1.1795789272000000011.pt.trace.json")))
	must(t, os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling_1.1795789272000000012.pt.trace.json")))
	must(t, os.Mkdir(filepath.Join(dir, "dir_1.1795789272000000013.pt.trace.json"), 0o755))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo_1.1795789272000000014.pt.trace.json"), 0o644))
	must(t, os.Symlink(outside, filepath.Join(dir, "linkdir"))) // never entered
	return dir, outside
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestScan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		recursive bool
		follow    bool
		found     []string
		problems  map[string]error
	}{
		{
			name:  "flat",
			found: []string{name0, "host_1.1795789272000000002.pt.trace.json", "in_1.1795789272000000011.pt.trace.json"},
			problems: map[string]error{
				"out_1.1795789272000000010.pt.trace.json":      ErrOutsideDir,
				"dangling_1.1795789272000000012.pt.trace.json": os.ErrNotExist,
				"fifo_1.1795789272000000014.pt.trace.json":     ErrNotRegular,
			},
		},
		{
			name:      "recursive, following symlinks",
			recursive: true,
			follow:    true,
			found: []string{name0, "host_1.1795789272000000002.pt.trace.json", "in_1.1795789272000000011.pt.trace.json",
				"out_1.1795789272000000010.pt.trace.json",
				"sub/rank1.1795789272000000004.pt.trace.json.gz", "sub/deeper/rank2.1795789272000000005.pt.trace.json.gz"},
			problems: map[string]error{
				"dangling_1.1795789272000000012.pt.trace.json": os.ErrNotExist,
				"fifo_1.1795789272000000014.pt.trace.json":     ErrNotRegular,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := tree(t)
			r, err := NewRoot(dir, "archive", "")
			must(t, err)
			f := &Finder{Roots: []Root{r}, Recursive: tt.recursive, FollowSymlinks: tt.follow}
			var found []string
			problems := map[string]error{}
			var dirs []string
			err = f.Scan(0, func(fd Found) {
				rel, _ := filepath.Rel(dir, fd.Path)
				found = append(found, filepath.ToSlash(rel))
				if fd.Size != 1 || fd.ModTime.IsZero() || fd.Info.Base != filepath.Base(fd.Path) {
					t.Errorf("bad Found %+v", fd)
				}
			}, func(p string, err error) {
				rel, _ := filepath.Rel(dir, p)
				problems[rel] = err
			}, func(d string) { dirs = append(dirs, d) })
			must(t, err)
			sort.Strings(found)
			sort.Strings(tt.found)
			if !reflect.DeepEqual(found, tt.found) {
				t.Errorf("found\n %v\nwant\n %v", found, tt.found)
			}
			if len(problems) != len(tt.problems) {
				t.Errorf("problems %v, want %v", problems, tt.problems)
			}
			for p, want := range tt.problems {
				if !errors.Is(problems[p], want) {
					t.Errorf("problem for %s = %v, want %v", p, problems[p], want)
				}
			}
			wantDirs := 1
			if tt.recursive {
				wantDirs = 4 // at least the root, real, sub and sub/deeper
			}
			if len(dirs) < wantDirs {
				t.Errorf("listed dirs %v, want at least %d", dirs, wantDirs)
			}
			for _, d := range dirs {
				switch filepath.Base(d) {
				case "exported", "failed", "capture_traces", "archive", "linkdir":
					t.Errorf("entered %s", d)
				}
			}
		})
	}
}

func TestScanMissingRoot(t *testing.T) {
	t.Parallel()
	r, err := NewRoot(filepath.Join(t.TempDir(), "later"), "", "")
	must(t, err)
	f := &Finder{Roots: []Root{r}}
	err = f.Scan(0, func(Found) { t.Error("visit") }, func(string, error) { t.Error("problem") }, func(string) {})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want ErrNotExist", err)
	}
}

func TestSideFiles(t *testing.T) {
	t.Parallel()
	dir, _ := tree(t)
	r, err := NewRoot(dir, "", "")
	must(t, err)
	f := &Finder{Roots: []Root{r}}
	exported, failed := f.SideFiles(0)
	if len(exported) != 1 || filepath.Base(exported[0].Path) != "rank3.1795789272000000006.pt.trace.json.gz" {
		t.Errorf("exported %+v", exported)
	}
	if len(failed) != 1 || filepath.Base(failed[0].Path) != "rank4.1795789272000000007.pt.trace.json.gz" {
		t.Errorf("failed %+v", failed)
	}
}

func TestNewRoot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		exported, failed string
		wantE, wantF     string
	}{
		{"", "", "/p/exported", "/p/failed"},
		{"done", "bad/x", "/p/done", "/p/bad/x"},
		{"/archive/", "/q", "/archive", "/q"},
	}
	for _, tt := range tests {
		r, err := NewRoot("/p/", tt.exported, tt.failed)
		must(t, err)
		if r.Dir != "/p" || r.Exported != tt.wantE || r.Failed != tt.wantF {
			t.Errorf("NewRoot(/p/, %q, %q) = %+v", tt.exported, tt.failed, r)
		}
	}
}

func TestWithinAndRootOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dir, p string
		want   bool
	}{
		{"/a", "/a", true},
		{"/a", "/a/b/c", true},
		{"/a", "/ab", false},
		{"/a", "/", false},
		{"/a/b", "/a", false},
		{"/a", "/a/../b", false},
		{"", "/a", false},
	}
	for _, tt := range tests {
		if got := Within(tt.dir, filepath.Clean(tt.p)); got != tt.want {
			t.Errorf("Within(%q, %q) = %v", tt.dir, tt.p, got)
		}
	}
	f := &Finder{Roots: []Root{{Dir: "/x"}, {Dir: "/y"}}}
	if f.RootOf("/y/z") != 1 || f.RootOf("/x") != 0 || f.RootOf("/z") != -1 {
		t.Error("RootOf")
	}
}
