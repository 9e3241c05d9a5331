package report

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// NA is the cell of a value the trace does not carry.
const NA = "n/a"

// ClassColors are the chart colors of Classes (same order).
var ClassColors = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"}

// Document lays the report out: summary, per-step chart and table, the
// kernel tables per step kind, the checklist and the request table.
func (r *Report) Document() Document {
	d := Document{Title: "vllm-otel-bridge inspect"}
	for i, f := range r.Files {
		m := fmt.Sprintf("file %d: %s, %d steps", i+1, f.Name, f.Steps)
		if f.Rank != nil {
			m += fmt.Sprintf(", rank %d", *f.Rank)
		}
		if f.GPU != "" {
			m += ", " + f.GPU
		}
		if f.Error != "" {
			m += ", FAILED: " + f.Error
		}
		d.Meta = append(d.Meta, m)
	}
	if len(r.Steps) > 0 {
		d.Sections = append(d.Sections, Section{Title: "GPU time per step", Chart: r.StepChart()})
	}
	d.Sections = append(d.Sections, Section{Title: "Steps", Table: r.StepTable(),
		Notes: []string{"busy % and host-wait % are of the step's wall time; n/a: the step root lacks the attribute (vllm.step.gpu_busy_ns, vllm.step.gpu_idle.host_wait_ns, vllm.step.gpu_time.<class>_ns, vllm.step.bottleneck)"}})
	for _, t := range r.Kernels {
		title := fmt.Sprintf("Top kernels: %s steps (%d steps, GPU time %s, %d names)", t.Kind, t.Steps, fmtDur(t.GPUNs), t.Names)
		if t.Kind == ProfileKind {
			title = fmt.Sprintf("Top kernels: outside every step (GPU time %s, %d names)", fmtDur(t.GPUNs), t.Names)
		}
		d.Sections = append(d.Sections, Section{Title: title, Table: r.KernelTableView(t)})
	}
	items := make([]ListItem, len(r.Checklist))
	for i, f := range r.Checklist {
		items[i] = ListItem{Status: f.Status, Head: f.Item, Body: f.Finding, Sub: f.Evidence}
	}
	d.Sections = append(d.Sections, Section{Title: "Checklist", List: items})
	req := Section{Title: "Requests"}
	if len(r.Requests) == 0 {
		req.Text = []string{"no request data: --requests FILE (vLLM's log or llm_request spans) ties the steps to requests"}
	} else {
		req.Table = r.RequestTable()
	}
	d.Sections = append(d.Sections, req)
	return d
}

// StepChart is the stacked bar per step: GPU time by class (or GPU busy
// time when the roots carry no class times) plus the idle split (or the
// whole idle time).
func (r *Report) StepChart() *Chart {
	hasClass, hasSplit := false, false
	for i := range r.Steps {
		if _, _, ok := r.Steps[i].Dominant(); ok {
			hasClass = true
		}
		if _, ok := r.Steps[i].Int(AttrHostWait); ok {
			hasSplit = true
		}
	}
	var keys []string
	c := &Chart{Unit: "ns"}
	if hasClass {
		for i, cl := range Classes {
			keys = append(keys, ClassAttr(cl))
			c.Series = append(c.Series, Series{Name: cl, Color: ClassColors[i]})
		}
	} else {
		keys = append(keys, AttrGPUBusy)
		c.Series = append(c.Series, Series{Name: "GPU busy (not classified)", Color: ClassColors[0]})
	}
	if hasSplit {
		for i, p := range IdleParts {
			keys = append(keys, p.Attr)
			c.Series = append(c.Series, Series{Name: "idle: " + p.Name, Color: []string{"#555555", "#999999", "#cccccc"}[i]})
		}
	} else {
		keys = append(keys, AttrGPUIdle)
		c.Series = append(c.Series, Series{Name: "GPU idle (not split)", Color: "#bbbbbb"})
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		b := Bar{Label: r.stepName(i), Values: make([]int64, len(keys))}
		for j, k := range keys {
			if v, ok := s.Int(k); ok {
				b.Values[j] = v
			} else {
				b.Values[j] = -1
			}
		}
		b.Note = "wall " + fmtDur(s.WallNs)
		if bn, ok := s.Str(AttrBottleneck); ok {
			b.Note += ", bottleneck " + bn
		}
		c.Bars = append(c.Bars, b)
	}
	c.Caption = "one bar per step, in order: GPU time by class, then GPU idle time"
	if !hasClass {
		c.Caption = "one bar per step, in order: GPU busy time (no vllm.step.gpu_time.<class>_ns on the roots), then GPU idle time"
	}
	if !hasSplit {
		c.Caption += " (not split: no vllm.step.gpu_idle.host_wait_ns on the roots)"
	}
	return c
}

func (r *Report) stepName(i int) string {
	s := &r.Steps[i]
	if len(r.Files) > 1 {
		return fmt.Sprintf("%d:%d (%s)", s.File+1, s.Index, s.Kind)
	}
	return fmt.Sprintf("%d (%s)", s.Index, s.Kind)
}

// StepTable is the step table: index, kind, batch, wall time, GPU busy %,
// host-wait %, dominant class, bottleneck.
func (r *Report) StepTable() *Table {
	t := &Table{}
	if len(r.Files) > 1 {
		t.Columns = append(t.Columns, Column{Name: "file", Right: true})
	}
	t.Columns = append(t.Columns, Column{Name: "step", Right: true}, Column{Name: "kind"},
		Column{Name: "batch ctx+gen (tokens)"}, Column{Name: "wall ms", Right: true},
		Column{Name: "GPU busy %", Right: true}, Column{Name: "host-wait %", Right: true},
		Column{Name: "dominant class"}, Column{Name: "bottleneck"})
	for i := range r.Steps {
		s := &r.Steps[i]
		var row []string
		if len(r.Files) > 1 {
			row = append(row, strconv.Itoa(s.File+1))
		}
		dom := NA
		if c, ns, ok := s.Dominant(); ok {
			dom = c
			if g := s.classSum(); g > 0 {
				dom = fmt.Sprintf("%s %.0f%%", c, 100*float64(ns)/float64(g))
			}
		}
		bn, ok := s.Str(AttrBottleneck)
		if !ok {
			bn = NA
		}
		b, bok := s.BusyShare()
		h, hok := s.HostWaitShare()
		row = append(row, strconv.FormatInt(s.Index, 10), s.Kind, s.batch(), fmtMs(s.WallNs),
			pctCell(b, bok), pctCell(h, hok), dom, bn)
		t.Rows = append(t.Rows, row)
	}
	return t
}

func (s *Step) classSum() (g int64) {
	for _, c := range Classes {
		v, _ := s.Int(ClassAttr(c))
		g += v
	}
	return g
}

// batch is the step's batch composition from its annotation.
func (s *Step) batch() string {
	cr, ok1 := s.Int(AttrCtxRequests)
	gr, ok2 := s.Int(AttrGenRequests)
	if ok1 || ok2 {
		ct, _ := s.Int(AttrCtxTokens)
		gt, _ := s.Int(AttrGenTokens)
		return fmt.Sprintf("%d+%d (%d)", cr, gr, ct+gt)
	}
	nr, ok1 := s.Int(AttrNewRequests)
	cr, ok2 = s.Int(AttrCachedRequests)
	if ok1 || ok2 {
		return fmt.Sprintf("new %d, cached %d", nr, cr)
	}
	return NA
}

func pctCell(v float64, ok bool) string {
	if !ok {
		return NA
	}
	return fmt.Sprintf("%.1f", 100*v)
}

func fmtMs(ns int64) string { return fmt.Sprintf("%.3f", float64(ns)/1e6) }

// KernelTableView is the key_averages() table of one step kind.
func (r *Report) KernelTableView(kt KernelTable) *Table {
	t := &Table{Columns: []Column{{Name: "name"}}}
	if r.Classified {
		t.Columns = append(t.Columns, Column{Name: "class"})
	}
	t.Columns = append(t.Columns, Column{Name: "calls", Right: true}, Column{Name: "total ms", Right: true},
		Column{Name: "mean µs", Right: true}, Column{Name: "max µs", Right: true}, Column{Name: "% GPU", Right: true})
	add := func(k KernelRow) {
		row := []string{k.Name}
		if r.Classified {
			row = append(row, orNA(k.Class))
		}
		row = append(row, strconv.FormatInt(k.Calls, 10), fmtMs(k.TotalNs),
			fmt.Sprintf("%.1f", float64(k.MeanNs)/1e3), fmt.Sprintf("%.1f", float64(k.MaxNs)/1e3), fmt.Sprintf("%.1f", k.GPUPct))
		t.Rows = append(t.Rows, row)
	}
	for _, k := range kt.Rows {
		add(k)
	}
	if kt.Rest.Calls > 0 {
		rest := kt.Rest
		rest.Class = ""
		add(rest)
		if r.Classified {
			t.Rows[len(t.Rows)-1][1] = ""
		}
	}
	return t
}

func orNA(s string) string {
	if s == "" {
		return NA
	}
	return s
}

// RequestTable is the per-request table: id, steps, attributed GPU ms,
// slowest step.
func (r *Report) RequestTable() *Table {
	t := &Table{Columns: []Column{{Name: "request"}, {Name: "steps", Right: true}, {Name: "by kind"},
		{Name: "attributed GPU ms", Right: true}, {Name: "slowest step"}}}
	for _, q := range r.Requests {
		kinds := slices.Sorted(maps.Keys(q.StepsByKind))
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%d %s", q.StepsByKind[k], k)
		}
		att := NA
		if q.AttributedNs != nil {
			att = fmtMs(*q.AttributedNs)
		}
		slow := NA
		if q.Slowest != nil {
			bn := NA
			if q.Slowest.Bottleneck != nil {
				bn = *q.Slowest.Bottleneck
			}
			slow = fmt.Sprintf("%s, %s ms, bottleneck %s", r.stepName(q.Slowest.Step), fmtMs(q.Slowest.WallNs), bn)
		}
		t.Rows = append(t.Rows, []string{q.ID, strconv.Itoa(q.Steps), strings.Join(parts, ", "), att, slow})
	}
	return t
}
