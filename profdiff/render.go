package profdiff

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"
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
			fmt.Fprintf(&b, "  %-8s %-6s %-44s %10s → %-10s %+8.1f%%  (%s, 95%% CI %s … %s, p=%.2g)\n",
				c.StepKind, c.Kind, clip(c.Name, 44), dur(c.BaseNs), dur(c.NewNs), pct(c.DeltaNs, c.BaseNs),
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
	for _, k := range sortedKeys(s.Steps) {
		parts = append(parts, fmt.Sprintf("%d %s", s.Steps[k], k))
	}
	if len(parts) == 0 {
		return "no steps"
	}
	return strings.Join(parts, ", ") + " steps"
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
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

func sign(v int64) int {
	if v < 0 {
		return -1
	}
	return 1
}

// WriteHTML writes a self-contained HTML report (no network, no script):
// per step kind, side-by-side bars of the GPU time by class where both
// sides carry it, of the step figures and of the compared kernels, then
// the tables of the text report.
func (r *Report) WriteHTML(w io.Writer) error {
	type bar struct {
		Label       string
		Base, New   string // widths in %
		BaseT, NewT string
		Sig         bool
	}
	type group struct {
		Title string
		Bars  []bar
	}
	type kindView struct {
		Kind   string
		Line   string
		Groups []group
	}
	var views []kindView
	for _, s := range r.Summary {
		v := kindView{Kind: s.StepKind}
		var line strings.Builder
		fmt.Fprintf(&line, "%d → %d steps", s.BaseSteps, s.NewSteps)
		if c := s.Wall; c != nil {
			fmt.Fprintf(&line, ", wall %s → %s (%+.1f%%)", dur(c.BaseNs), dur(c.NewNs), pct(c.DeltaNs, c.BaseNs))
		}
		fmt.Fprintf(&line, ", %d significant changes", s.Significant)
		v.Line = line.String()
		mk := func(title, kind string) group {
			g := group{Title: title}
			var max int64 = 1
			var cs []Change
			for _, c := range r.Changes {
				if c.StepKind == s.StepKind && c.Kind == kind {
					cs = append(cs, c)
					max = maxI(max, maxI(c.BaseNs, c.NewNs))
				}
			}
			for _, c := range cs {
				g.Bars = append(g.Bars, bar{Label: clip(c.Name, 70), Base: width(c.BaseNs, max), New: width(c.NewNs, max),
					BaseT: dur(c.BaseNs), NewT: dur(c.NewNs), Sig: c.Significant})
			}
			return g
		}
		if s.Classes != nil {
			v.Groups = append(v.Groups, mk("GPU time by class, per step", "class"))
		} else {
			v.Groups = append(v.Groups, group{Title: "GPU time by class: n/a (the step roots carry no vllm.step.gpu_time.* attributes)"})
		}
		v.Groups = append(v.Groups, mk("Step figures, per step", "step"), mk("Kernels, per step", "kernel"))
		views = append(views, v)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		return err
	}
	err := htmlTmpl.Execute(w, map[string]any{"Views": views, "Text": text.String()})
	if err != nil {
		return fmt.Errorf("profdiff: writing HTML: %w", err)
	}
	return nil
}

func maxI(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func width(v, max int64) string {
	if v < 0 {
		v = 0
	}
	return fmt.Sprintf("%.1f", 100*float64(v)/float64(max))
}

var htmlTmpl = template.Must(template.New("diff").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vllm-otel-bridge diff</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
h2{margin-top:2em;border-bottom:1px solid #ccc}
.row{display:grid;grid-template-columns:28em 1fr;gap:.5em;align-items:center;margin:.15em 0}
.lab{font-family:monospace;font-size:12px;overflow:hidden;white-space:nowrap}
.sig{font-weight:bold}
.b{height:.8em;background:#8aa4c8;margin:1px 0}
.n{height:.8em;background:#e08a3c;margin:1px 0}
.t{font-size:11px;color:#555}
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}
.key span{display:inline-block;width:1em;height:.8em;margin:0 .3em 0 1em}
</style></head><body>
<h1>vllm-otel-bridge diff</h1>
<p class="key">bars:<span style="background:#8aa4c8"></span>base<span style="background:#e08a3c"></span>new; <b>bold</b> = significant</p>
{{range .Views}}<h2>{{.Kind}}</h2><p>{{.Line}}</p>
{{range .Groups}}<h3>{{.Title}}</h3>
{{range .Bars}}<div class="row"><div class="lab{{if .Sig}} sig{{end}}">{{.Label}}</div><div>
<div class="b" style="width:{{.Base}}%"></div><div class="n" style="width:{{.New}}%"></div>
<span class="t">{{.BaseT}} → {{.NewT}}</span></div></div>
{{end}}{{end}}{{end}}
<h2>Report</h2><pre>{{.Text}}</pre>
</body></html>
`))
