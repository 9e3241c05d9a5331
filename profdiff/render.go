package profdiff

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vllm-otel-bridge/vllm-otel-bridge/report"
)

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("profdiff: writing JSON: %w", err)
	}
	return nil
}

// WriteText writes the terminal report: the significant changes, biggest
// effect first (per step, then per token), the kernels that appeared or
// disappeared, a summary line per step kind, and what was not available.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "base: %s (%s)\n", strings.Join(r.Base.Files, ", "), stepCounts(r.Base))
	fmt.Fprintf(&b, "new:  %s (%s)\n", strings.Join(r.New.Files, ", "), stepCounts(r.New))
	if len(r.Base.VLLMVersions)+len(r.New.VLLMVersions) > 0 {
		fmt.Fprintf(&b, "vLLM: %s → %s\n", orNA(r.Base.VLLMVersions), orNA(r.New.VLLMVersions))
	}
	fmt.Fprintf(&b, "%d comparisons; significant = Mann-Whitney p < %.2g (0.05 family-wise), 95%% bootstrap CI of the mean difference excluding 0, and at least 2%% of base\n\n", r.Comparisons, r.Threshold)
	section := func(title string, cs []Change, unit string) {
		n := 0
		for _, c := range cs {
			if c.Significant {
				n++
			}
		}
		fmt.Fprintf(&b, "%s: %d significant\n", title, n)
		for _, c := range cs {
			if !c.Significant {
				break
			}
			fmt.Fprintf(&b, "  %-8s %-6s %-44s %10s → %-10s %9s  (%s, 95%% CI %s … %s, p=%.2g)\n",
				c.StepKind, c.Kind, clip(c.Name, 44), dur(c.BaseNs), dur(c.NewNs), pctText(c.DeltaNs, c.BaseNs),
				signed(c.DeltaNs)+unit, signed(c.CILowNs), signed(c.CIHighNs), c.P)
		}
	}
	section("per step", r.Changes, "/step")
	section("per token", r.PerToken, "/token")
	if len(r.Structural) > 0 {
		fmt.Fprintf(&b, "kernels that appeared or disappeared:\n")
		for _, s := range r.Structural {
			t := s.BaseNs
			if s.Change == "appeared" {
				t = s.NewNs
			}
			fmt.Fprintf(&b, "  %-8s %-11s %-60s %10s/step in %d steps\n", s.StepKind, s.Change, clip(s.Name, 60), dur(t), s.Steps)
		}
	}
	fmt.Fprintf(&b, "\nsummary:\n")
	for _, s := range r.Summary {
		fmt.Fprintf(&b, "  %-8s %d → %d steps", s.StepKind, s.BaseSteps, s.NewSteps)
		if c := s.Wall; c != nil {
			fmt.Fprintf(&b, ", wall %s → %s (%+.1f%%, 95%% CI %+.1f%% … %+.1f%%)", dur(c.BaseNs), dur(c.NewNs),
				pct(c.DeltaNs, c.BaseNs), pct(c.CILowNs, c.BaseNs), pct(c.CIHighNs, c.BaseNs))
		}
		if !math.IsNaN(s.BaseBusyPct) && !math.IsNaN(s.NewBusyPct) {
			fmt.Fprintf(&b, ", GPU busy %.0f%% → %.0f%%", s.BaseBusyPct, s.NewBusyPct)
		}
		fmt.Fprintf(&b, ", %d significant changes\n", s.Significant)
	}
	if len(r.NotAvailable) > 0 {
		fmt.Fprintf(&b, "not compared:\n")
		for _, n := range r.NotAvailable {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("profdiff: writing the report: %w", err)
	}
	return nil
}

func stepCounts(s SideInfo) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.Steps)) {
		parts = append(parts, fmt.Sprintf("%d %s", s.Steps[k], k))
	}
	if len(parts) == 0 {
		return "no steps"
	}
	return strings.Join(parts, ", ") + " steps"
}

func orNA(v []string) string {
	if len(v) == 0 {
		return "n/a"
	}
	return strings.Join(v, ",")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// dur prints ns as a duration with 3 significant digits.
func dur(ns int64) string {
	d := time.Duration(ns)
	switch a := abs(ns); {
	case a >= int64(time.Second):
		return fmt.Sprintf("%.3gs", d.Seconds())
	case a >= int64(time.Millisecond):
		return fmt.Sprintf("%.3gms", float64(ns)/1e6)
	case a >= int64(time.Microsecond):
		return fmt.Sprintf("%.3gµs", float64(ns)/1e3)
	default:
		return fmt.Sprintf("%dns", ns)
	}
}

func signed(ns int64) string {
	if ns >= 0 {
		return "+" + dur(ns)
	}
	return "−" + dur(-ns)
}

func pct(v, base int64) float64 {
	if base == 0 {
		return math.Inf(sign(v))
	}
	return 100 * float64(v) / float64(base)
}

// pctText is the change in percent of base, "new" where base is 0 (a
// figure that was zero on the base side has no percentage).
func pctText(v, base int64) string {
	if base == 0 {
		if v == 0 {
			return "+0.0%"
		}
		return "new"
	}
	return fmt.Sprintf("%+.1f%%", pct(v, base))
}

func sign(v int64) int {
	if v < 0 {
		return -1
	}
	return 1
}

// WriteHTML writes a self-contained HTML report (no network, no script)
// through report.RenderHTML: per step kind, side-by-side bars (base vs
// new) of the GPU time by class where both sides carry it, then the
// table of that kind's changes; after the kinds, the text report.
func (r *Report) WriteHTML(w io.Writer) error {
	if err := report.RenderHTML(w, r.Document()); err != nil {
		return fmt.Errorf("profdiff: writing HTML: %w", err)
	}
	return nil
}

// Document is the HTML report as a report.Document.
func (r *Report) Document() report.Document {
	d := report.Document{Title: "vllm-otel-bridge diff", Meta: []string{
		fmt.Sprintf("base: %s (%s)", strings.Join(r.Base.Files, ", "), stepCounts(r.Base)),
		fmt.Sprintf("new: %s (%s)", strings.Join(r.New.Files, ", "), stepCounts(r.New)),
		fmt.Sprintf("%d comparisons; significant = Mann-Whitney p < %.2g (0.05 family-wise), 95%% bootstrap CI excluding 0, and at least 2%% of base", r.Comparisons, r.Threshold),
	}}
	series := []report.Series{{Name: "base", Color: "#8aa4c8"}, {Name: "new", Color: "#e08a3c"}}
	cols := []report.Column{{Name: "kind"}, {Name: "name"}, {Name: "base", Right: true}, {Name: "new", Right: true},
		{Name: "change", Right: true}, {Name: "95% CI", Right: true}, {Name: "p", Right: true}, {Name: "significant"}}
	for i, s := range r.Summary {
		var line strings.Builder
		fmt.Fprintf(&line, "%d → %d steps", s.BaseSteps, s.NewSteps)
		if c := s.Wall; c != nil {
			fmt.Fprintf(&line, ", wall %s → %s (%+.1f%%)", dur(c.BaseNs), dur(c.NewNs), pct(c.DeltaNs, c.BaseNs))
		}
		fmt.Fprintf(&line, ", %d significant changes", s.Significant)
		sec := report.Section{Title: s.StepKind + " steps", Text: []string{line.String()}}
		chart := &report.Chart{ID: fmt.Sprintf("diff-chart-%d", i), SideBySide: true, Unit: "ns", Series: series,
			Caption: "GPU time by class per " + s.StepKind + " step, mean: base vs new"}
		tab := &report.Table{Columns: cols}
		for _, c := range r.Changes {
			if c.StepKind != s.StepKind {
				continue
			}
			if c.Kind == "class" {
				chart.Bars = append(chart.Bars, report.Bar{Label: c.Name, Values: []int64{max(c.BaseNs, 0), max(c.NewNs, 0)},
					Note: pctText(c.DeltaNs, c.BaseNs)})
			}
			sig := "no"
			if c.Significant {
				sig = "yes"
			}
			tab.Rows = append(tab.Rows, []string{c.Kind, c.Name, dur(c.BaseNs), dur(c.NewNs),
				pctText(c.DeltaNs, c.BaseNs), signed(c.CILowNs) + " … " + signed(c.CIHighNs),
				fmt.Sprintf("%.2g", c.P), sig})
		}
		if s.Classes != nil && len(chart.Bars) > 0 {
			sec.Chart = chart
		} else {
			sec.Notes = append(sec.Notes, "GPU time by class: n/a (the step roots carry no vllm.step.gpu_time.* attributes)")
		}
		sec.Table = tab
		d.Sections = append(d.Sections, sec)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err == nil {
		d.Sections = append(d.Sections, report.Section{Title: "Report", Text: strings.Split(strings.TrimRight(text.String(), "\n"), "\n")})
	}
	return d
}
