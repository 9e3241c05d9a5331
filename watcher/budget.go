package watcher

import (
	"errors"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/watcher/finder"
)

// budgetFile is a file the disk budget counts.
type budgetFile struct {
	Path    string
	Root    int
	Size    int64
	ModTime time.Time
	Stamp   time.Time // export time from the name; zero if unknown
}

func (f budgetFile) less(o budgetFile) bool {
	a := &entry{path: f.Path, mtime: f.ModTime}
	a.info.ExportTime = f.Stamp
	c := &entry{path: o.Path, mtime: o.ModTime}
	c.info.ExportTime = o.Stamp
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
	out := make([]rootFiles, len(w.find.Roots))
	budget := w.cfg.DiskBudgetBytes > 0
	w.mu.Lock()
	for _, e := range w.files {
		out[e.root].total += e.size
		if budget && e.phase == phaseExported {
			out[e.root].deletable = append(out[e.root].deletable,
				budgetFile{Path: e.path, Root: e.root, Size: e.size, ModTime: e.mtime, Stamp: e.info.ExportTime})
		}
	}
	w.mu.Unlock()
	for ri := range w.find.Roots {
		exported, failed := w.find.SideFiles(ri)
		for _, f := range failed {
			out[ri].total += f.Size
		}
		for _, f := range exported {
			out[ri].total += f.Size
			if budget {
				out[ri].deletable = append(out[ri].deletable,
					budgetFile{Path: f.Path, Root: ri, Size: f.Size, ModTime: f.ModTime, Stamp: f.Info.ExportTime})
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
		if limit := int64(w.cfg.DiskBudgetBytes); limit > 0 && total > limit {
			cands := rf.deletable
			sort.Slice(cands, func(i, j int) bool { return cands[i].less(cands[j]) })
			for _, c := range cands {
				if total <= limit {
					break
				}
				if w.deleteExported(c) {
					total -= c.Size
				}
			}
			w.mu.Lock()
			over := max(total-limit, 0)
			if over > 0 && w.overrun[ri] == 0 {
				w.log.Warn("watcher: disk budget exceeded by files not exported yet; nothing more to delete",
					"dir", w.find.Roots[ri].Dir, "budget_bytes", limit, "over_bytes", over)
			} else if over == 0 && w.overrun[ri] > 0 {
				w.log.Info("watcher: disk budget respected again", "dir", w.find.Roots[ri].Dir)
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
	if e, ok := w.files[f.Path]; ok {
		if e.phase != phaseExported || e.size != f.Size || !e.mtime.Equal(f.ModTime) {
			return false
		}
	} else if w.find.RootOf(f.Path) >= 0 && !finder.Within(w.find.Roots[f.Root].Exported, f.Path) {
		return false // not tracked and not in the exported directory: not ours to delete
	}
	if err := os.Remove(f.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		w.log.Warn("watcher: disk budget: delete failed", "path", f.Path, "err", err)
		return false
	}
	delete(w.files, f.Path)
	w.stats.DeletedByBudget++
	w.log.Info("watcher: disk budget: deleted exported file", "path", f.Path, "size", f.Size)
	return true
}
