package capture

import (
	"context"
	"fmt"
)

// BudgetPrecondition refuses a start when the trace files on disk
// (used(), e.g. the watcher's Stats().BytesOnDisk) plus reserve, the room
// one more capture needs, exceed budget, the profiler directory's disk
// budget (--disk-budget). A budget of 0 means none: it never refuses. The
// watcher frees space only by deleting exported files, so a budget filled
// by files not yet exported stays short until the exporter catches up.
func BudgetPrecondition(budget, reserve int64, used func() int64) Precondition {
	return func(context.Context) error {
		if budget <= 0 {
			return nil
		}
		if u := used(); u+reserve > budget {
			return fmt.Errorf("%w: %d bytes of trace files + %d reserved for the capture > budget %d", ErrDiskBudget, u, reserve, budget)
		}
		return nil
	}
}
