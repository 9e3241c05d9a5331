package logfiles

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// candidate is one file a pattern names.
type candidate struct {
	path     string
	inFolder bool // found under a folder pattern (task = file stem)
}

func filepathMatchCheck(p string) (bool, error) {
	_, err := filepath.Match(p, "")
	return err == nil, err
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// rotatedSuffix matches what logrotate and the kubelet append to a
// rotated file's name: .1, .2.gz, -20261207, .20261207-032251.gz.
var rotatedSuffix = regexp.MustCompile(`^[.-][0-9][0-9-]*(\.gz)?$`)

// expand lists the files the patterns name now, each once, sorted, and the
// folders to watch for new ones.
func expand(patterns []string, rotated bool) (files []candidate, dirs []string) {
	seen := map[string]int{}
	dirSet := map[string]bool{}
	add := func(p string, inFolder bool) {
		p = filepath.Clean(p)
		if i, ok := seen[p]; ok {
			files[i].inFolder = files[i].inFolder || inFolder
			return
		}
		seen[p] = len(files)
		files = append(files, candidate{path: p, inFolder: inFolder})
	}
	for _, pat := range patterns {
		if fi, err := os.Stat(pat); err == nil && fi.IsDir() {
			root := filepath.Clean(pat)
			_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return nil // a folder vanished or cannot be listed: skip it
				}
				if p != root && strings.HasPrefix(d.Name(), ".") {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
				if d.IsDir() {
					dirSet[p] = true
					return nil
				}
				if d.Type().IsRegular() {
					add(p, true)
				}
				return nil
			})
			continue
		}
		// The static part of the pattern is watched so that folders and
		// files matching later are seen.
		static := pat
		if hasMeta(pat) {
			static = pat[:strings.IndexAny(pat, `*?[\`)]
		}
		dirSet[filepath.Dir(static)] = true
		matches, _ := filepath.Glob(pat)
		if !hasMeta(pat) {
			matches = []string{pat}
		}
		for _, m := range matches {
			if hiddenMatch(pat, m) {
				continue
			}
			// A named file's rotated siblings count even while the file
			// itself is missing (between a rename and its re-creation).
			if rotated {
				for _, s := range siblings(m) {
					add(s, false)
				}
			}
			fi, err := os.Stat(m)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			add(m, false)
			dirSet[filepath.Dir(m)] = true
		}
		if hasMeta(pat) {
			// Intermediate folders of the glob (new pods) are watched too.
			parts := strings.Split(filepath.Dir(pat), string(filepath.Separator))
			for i := range parts {
				if d := strings.Join(parts[:i+1], string(filepath.Separator)); hasMeta(d) {
					ms, _ := filepath.Glob(d)
					for _, m := range ms {
						if fi, err := os.Stat(m); err == nil && fi.IsDir() {
							dirSet[m] = true
						}
					}
				}
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	for d := range dirSet {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	return files, dirs
}

// hiddenMatch reports whether a glob's wildcard matched a hidden name (as
// a shell's * does not): an element of m starts with "." where the
// pattern's element does not.
func hiddenMatch(pat, m string) bool {
	pe := strings.Split(filepath.Clean(pat), string(filepath.Separator))
	me := strings.Split(filepath.Clean(m), string(filepath.Separator))
	if len(pe) != len(me) {
		return false
	}
	for i := range pe {
		if strings.HasPrefix(me[i], ".") && !strings.HasPrefix(pe[i], ".") {
			return true
		}
	}
	return false
}

// siblings lists the rotated copies of path in its folder.
func siblings(path string) []string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if n == base || !strings.HasPrefix(n, base) || !e.Type().IsRegular() {
			continue
		}
		if rotatedSuffix.MatchString(n[len(base):]) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out
}

var (
	stemRotated = regexp.MustCompile(`([.-][0-9][0-9-]*)$`)
	stemExt     = regexp.MustCompile(`\.(log|jsonl|json|txt|out)$`)
)

// stem is a log file's name without .gz, a rotation suffix and its
// extension: "bench-7.log.1.gz" → "bench-7".
func stem(path string) string {
	n := filepath.Base(path)
	n = strings.TrimSuffix(n, ".gz")
	if m := stemRotated.FindStringIndex(n); m != nil && m[0] > 0 && stemExt.MatchString(n[:m[0]]) {
		n = n[:m[0]]
	}
	if m := stemExt.FindStringIndex(n); m != nil && m[0] > 0 {
		n = n[:m[0]]
	}
	return n
}

// Match lists the files the patterns name now, sorted, without rotated
// siblings: what convert reads.
func Match(patterns []string) []string {
	files, _ := expand(patterns, false)
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.path
	}
	return out
}

// Head returns the first KiB of a file's content, decompressed for a
// name ending in .gz.
func Head(path string) ([]byte, error) { return readHead(path, strings.HasSuffix(path, ".gz")) }
