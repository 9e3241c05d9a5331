package capture

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// traceName matches what torch's tensorboard_trace_handler writes:
// <worker>.<time.time_ns()>.pt.trace.json[.gz].
var traceName = regexp.MustCompile(`\.(\d{16,20})\.pt\.trace\.json(\.gz)?$`)

// fileStamp is the write time PyTorch put into a trace file's name.
func fileStamp(name string) (time.Time, bool) {
	m := traceName.FindStringSubmatch(name)
	if m == nil {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// listTraceFiles returns the trace files directly in dirs with their
// sizes. Unreadable directories are skipped: the watcher reports them.
func listTraceFiles(dirs []string) map[string]int64 {
	out := map[string]int64{}
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || !traceName.MatchString(e.Name()) {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			out[filepath.Join(d, e.Name())] = info.Size()
		}
	}
	return out
}
