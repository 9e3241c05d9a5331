package watcher

import (
	"errors"
	"io/fs"
	"os"
	"sort"
	"time"
)

// budgetFile is a file the disk budget counts.
type budgetFile struct {
	path  string
	root  int
	size  int64
	mtime time.Time
	stamp time.Time // export time from the name; zero if unknown
}

func (f budgetFile) less(o budgetFile) bool {
	a := &entry{path: f.path, mtime: f.mtime}
	a.info.ExportTime = f.stamp
	c := &entry{path: o.path, mtime: o.mtime}
	c.info.ExportTime = o.stamp
	return a.less(c)
}

// rootFiles is what the disk budget looks at for one watched directory.
type rootFiles struct {
	total     int64        // bytes of every trace file counted
	deletable []budgetFile // exported files: tracked ones and those in the exported directory
}

// scanSnapshot totals, per root, the trace files in the directory and in
// its exported and failed directories, and lists the deletable ones when
// a budget is set.
func (w *Watcher) scanSnapshot() []rootFiles {
	out := make([]rootFiles, len(w.roots))
	budget := w.cfg.DiskBudgetBytes > 0
	w.mu.Lock()
	for _, e := range w.files {
		out[e.root].total += e.size
		if budget && e.phase == phaseExported {
			out[e.root].deletable = append(out[e.root].deletable,
				budgetFile{path: e.path, root: e.root, size: e.size, mtime: e.mtime, stamp: e.info.ExportTime})
		}
	}
	w.mu.Unlock()
	for ri := range w.roots {
		exported, failed := w.sideFiles(ri)
		for _, f := range failed {
			out[ri].total += f.size
		}
		for _, f := range exported {
			out[ri].total += f.size
			if budget {
				out[ri].deletable = append(out[ri].deletable,
					budgetFile{path: f.path, root: ri, size: f.size, mtime: f.mtime, stamp: f.info.ExportTime})
			}
		}
	}
	return out
}

// budget updates BytesOnDisk and, with a DiskBudgetBytes, deletes the
// oldest exported files of each root until it fits. It never deletes a file
// that is not recorded as exported.
func (w *Watcher) budget(snap []rootFiles) {
	var onDisk int64
	for ri, rf := range snap {
		total := rf.total
		if limit := w.cfg.DiskBudgetBytes; limit > 0 && total > limit {
			cands := rf.deletable
			sort.Slice(cands, func(i, j int) bool { return cands[i].less(cands[j]) })
			for _, c := range cands {
				if total <= limit {
					break
				}
				if w.deleteExported(c) {
					total -= c.size
				}
			}
			w.mu.Lock()
			over := max(total-limit, 0)
			if over > 0 && w.overrun[ri] == 0 {
				w.log.Warn("watcher: disk budget exceeded by files not exported yet; nothing more to delete",
					"dir", w.roots[ri].dir, "budget_bytes", limit, "over_bytes", over)
			} else if over == 0 && w.overrun[ri] > 0 {
				w.log.Info("watcher: disk budget respected again", "dir", w.roots[ri].dir)
			}
			w.overrun[ri] = over
			w.mu.Unlock()
		} else {
			w.mu.Lock()
			w.overrun[ri] = 0
			w.mu.Unlock()
		}
		onDisk += total
	}
	w.mu.Lock()
	w.stats.BytesOnDisk = onDisk
	w.mu.Unlock()
}

// deleteExported removes one exported file, after checking (for tracked
// files) that it is still recorded as exported and unchanged.
func (w *Watcher) deleteExported(f budgetFile) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.files[f.path]; ok {
		if e.phase != phaseExported || e.size != f.size || !e.mtime.Equal(f.mtime) {
			return false
		}
	} else if w.rootOf(f.path) >= 0 && !within(w.roots[f.root].exported, f.path) {
		return false // not tracked and not in the exported directory: not ours to delete
	}
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.log.Warn("watcher: disk budget: delete failed", "path", f.path, "err", err)
		return false
	}
	delete(w.files, f.path)
	w.stats.DeletedByBudget++
	w.log.Info("watcher: disk budget: deleted exported file", "path", f.path, "size", f.size)
	return true
}
