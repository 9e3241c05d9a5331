package watcher

import (
	"errors"
	"io/fs"
	"os"
	"sort"
)

// rootFiles is what the disk budget looks at for one watched directory.
type rootFiles struct {
	tracked  []found // trace files in the directory
	exported []found // exported files among tracked, deletable
	side     []found // files in the exported directory, deletable
	failed   []found // files in the failed directory, never deleted
}

// scanSnapshot gathers, per root, the trace files the budget counts.
func (w *Watcher) scanSnapshot() []rootFiles {
	out := make([]rootFiles, len(w.roots))
	w.mu.Lock()
	for _, e := range w.files {
		f := found{path: e.path, root: e.root, info: e.info, size: e.size, mtime: e.mtime}
		out[e.root].tracked = append(out[e.root].tracked, f)
		if e.phase == phaseExported {
			out[e.root].exported = append(out[e.root].exported, f)
		}
	}
	w.mu.Unlock()
	for ri := range w.roots {
		out[ri].side, out[ri].failed = w.sideFiles(ri)
	}
	return out
}

// budget updates BytesOnDisk and, with a DiskBudgetBytes, deletes the
// oldest exported files of each root until it fits. It never deletes a file
// that is not recorded as exported.
func (w *Watcher) budget(snap []rootFiles) {
	var onDisk int64
	for ri, rf := range snap {
		var total int64
		for _, l := range [][]found{rf.tracked, rf.side, rf.failed} {
			for _, f := range l {
				total += f.size
			}
		}
		if limit := w.cfg.DiskBudgetBytes; limit > 0 && total > limit {
			cands := append(append([]found(nil), rf.side...), rf.exported...)
			sort.Slice(cands, func(i, j int) bool {
				a := &entry{path: cands[i].path, info: cands[i].info, mtime: cands[i].mtime}
				b := &entry{path: cands[j].path, info: cands[j].info, mtime: cands[j].mtime}
				return a.less(b)
			})
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
func (w *Watcher) deleteExported(f found) bool {
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
