package report

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"strings"
)

// RenderHTML writes d as one self-contained HTML page: inline CSS, charts
// as inline SVG, no script, no font, nothing fetched from anywhere.
func RenderHTML(w io.Writer, d Document) error {
	bw := bufio.NewWriter(w)
	e := html.EscapeString
	fmt.Fprintf(bw, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 8px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
p.meta{margin:2px 0;color:#555;font-size:13px}
table{border-collapse:collapse;font-size:12px;margin:6px 0}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
th{background:#f5f5f5;position:sticky;top:0}
td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}
td.name{max-width:520px;overflow:hidden;text-overflow:ellipsis}
ul.check{list-style:none;padding:0}
ul.check li{margin:8px 0}
ul.check ul{margin:4px 0 0 24px;font-size:13px;color:#444}
.st{display:inline-block;min-width:38px;text-align:center;border-radius:3px;padding:1px 4px;font-size:12px;font-weight:600;margin-right:6px}
.st-flag{background:#fde2e1;color:#a3140c}.st-ok{background:#dff3e0;color:#1b6e20}
.st-info{background:#e3ecfa;color:#1f4f99}.st-na{background:#eee;color:#666}
.legend span{display:inline-block;margin:0 12px 4px 0;font-size:12px}
.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
.chart{overflow-x:auto}
.note{font-size:12px;color:#666}
</style></head><body>
<h1>%s</h1>
`, e(d.Title), e(d.Title))
	for _, m := range d.Meta {
		fmt.Fprintf(bw, "<p class=\"meta\">%s</p>\n", e(m))
	}
	for i, s := range d.Sections {
		fmt.Fprintf(bw, "<section id=\"s%d\">\n<h2>%s</h2>\n", i, e(s.Title))
		for _, t := range s.Text {
			fmt.Fprintf(bw, "<p>%s</p>\n", e(t))
		}
		if s.Chart != nil {
			writeChart(bw, s.Chart)
		}
		if len(s.List) > 0 {
			bw.WriteString("<ul class=\"check\">\n")
			for _, it := range s.List {
				cls := strings.ReplaceAll(it.Status, "/", "")
				fmt.Fprintf(bw, "<li><span class=\"st st-%s\">%s</span><b>%s</b>: %s", e(cls), e(it.Status), e(it.Head), e(it.Body))
				if len(it.Sub) > 0 {
					bw.WriteString("<ul>")
					for _, sub := range it.Sub {
						fmt.Fprintf(bw, "<li>%s</li>", e(sub))
					}
					bw.WriteString("</ul>")
				}
				bw.WriteString("</li>\n")
			}
			bw.WriteString("</ul>\n")
		}
		if s.Table != nil {
			writeHTMLTable(bw, s.Table)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(bw, "<p class=\"note\">%s</p>\n", e(n))
		}
		bw.WriteString("</section>\n")
	}
	bw.WriteString("</body></html>\n")
	return bw.Flush()
}

func writeHTMLTable(w *bufio.Writer, t *Table) {
	e := html.EscapeString
	w.WriteString("<table>\n<thead><tr>")
	for _, c := range t.Columns {
		if c.Right {
			fmt.Fprintf(w, "<th class=\"r\">%s</th>", e(c.Name))
		} else {
			fmt.Fprintf(w, "<th>%s</th>", e(c.Name))
		}
	}
	w.WriteString("</tr></thead>\n<tbody>\n")
	for _, row := range t.Rows {
		w.WriteString("<tr>")
		for i, c := range t.Columns {
			v := ""
			if i < len(row) {
				v = row[i]
			}
			switch {
			case c.Right:
				fmt.Fprintf(w, "<td class=\"r\">%s</td>", e(v))
			default:
				fmt.Fprintf(w, "<td class=\"name\" title=\"%s\">%s</td>", e(v), e(v))
			}
		}
		w.WriteString("</tr>\n")
	}
	w.WriteString("</tbody></table>\n")
}

// Chart geometry (SVG user units = CSS px).
const (
	chartHeight = 260
	chartLeft   = 56
	chartBottom = 22
	chartTop    = 8
)

func writeChart(w *bufio.Writer, c *Chart) {
	e := html.EscapeString
	w.WriteString("<div class=\"legend\">")
	for _, s := range c.Series {
		fmt.Fprintf(w, "<span><i style=\"background:%s\"></i>%s</span>", e(s.Color), e(s.Name))
	}
	w.WriteString("</div>\n")
	if c.SideBySide {
		writeSideBySide(w, c)
		return
	}
	n := len(c.Bars)
	barW := 24
	if n > 0 {
		barW = max(2, min(24, 900/n))
	}
	gap := 1
	if barW >= 6 {
		gap = 2
	}
	plotW := n * barW
	var maxTotal int64
	for _, b := range c.Bars {
		var t int64
		for _, v := range b.Values {
			t += max(v, 0)
		}
		maxTotal = max(maxTotal, t)
	}
	// Axis and scale: 0, half and the largest total.
	plotH, base := writeChartFrame(w, "step-chart", c.Caption, plotW, maxTotal)
	labelEvery := max(1, (n+19)/20)
	for i, b := range c.Bars {
		x := chartLeft + i*barW + gap/2
		y := float64(base)
		var tip []string
		tip = append(tip, b.Label)
		for j, v := range b.Values {
			if v <= 0 || maxTotal == 0 {
				if v == 0 {
					tip = append(tip, fmt.Sprintf("%s: 0", c.Series[j].Name))
				}
				continue
			}
			h := float64(v) / float64(maxTotal) * float64(plotH)
			y -= h
			tip = append(tip, fmt.Sprintf("%s: %s", c.Series[j].Name, fmtDur(v)))
			fmt.Fprintf(w, "<rect x=\"%d\" y=\"%.2f\" width=\"%d\" height=\"%.2f\" fill=\"%s\"><title>%s: %s</title></rect>\n",
				x, y, barW-gap, h, e(c.Series[j].Color), e(b.Label), e(c.Series[j].Name+" "+fmtDur(v)))
		}
		if b.Note != "" {
			tip = append(tip, b.Note)
		}
		// A transparent full-height target carries the whole bar's tooltip.
		fmt.Fprintf(w, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"transparent\" class=\"bar\"><title>%s</title></rect>\n",
			x, chartTop, barW-gap, int(y)-chartTop, e(strings.Join(tip, "\n")))
		if i%labelEvery == 0 {
			fmt.Fprintf(w, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n", x+barW/2, base+14, e(shortLabel(b.Label)))
		}
	}
	w.WriteString("</svg></div>\n")
	if c.Caption != "" {
		fmt.Fprintf(w, "<p class=\"note\">%s</p>\n", e(c.Caption))
	}
}

// writeChartFrame opens the SVG of a chart whose plot is plotW wide and
// draws its axes and its scale (0, half and top), returning the plot's
// height and the y of its base line.
func writeChartFrame(w *bufio.Writer, id, caption string, plotW int, top int64) (plotH, base int) {
	e := html.EscapeString
	width := chartLeft + plotW + 10
	plotH = chartHeight - chartTop - chartBottom
	base = chartTop + plotH
	fmt.Fprintf(w, "<div class=\"chart\"><svg id=\"%s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">\n",
		e(id), width, chartHeight, width, chartHeight, e(caption))
	fmt.Fprintf(w, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", chartLeft, base, chartLeft+plotW, base)
	fmt.Fprintf(w, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", chartLeft, chartTop, chartLeft, base)
	if top > 0 {
		for _, f := range []float64{0.5, 1} {
			y := float64(base) - f*float64(plotH)
			fmt.Fprintf(w, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">%s</text>\n", chartLeft-4, y+3, e(fmtDur(int64(f*float64(top)))))
			fmt.Fprintf(w, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>\n", chartLeft+1, y, chartLeft+plotW, y)
		}
	}
	return plotH, base
}

// writeSideBySide draws one group per Bar of one bar per series, scaled
// to the largest single value; after the legend, like writeChart.
func writeSideBySide(w *bufio.Writer, c *Chart) {
	e := html.EscapeString
	id := c.ID
	if id == "" {
		id = "step-chart"
	}
	n, k := len(c.Bars), max(1, len(c.Series))
	barW := 24
	if n > 0 {
		barW = max(3, min(24, 900/(n*k)))
	}
	groupW := barW*k + 6
	plotW := n * groupW
	var top int64
	for _, b := range c.Bars {
		for _, v := range b.Values {
			top = max(top, v)
		}
	}
	plotH, base := writeChartFrame(w, id, c.Caption, plotW, top)
	for i, b := range c.Bars {
		x0 := chartLeft + i*groupW + 3
		tip := []string{b.Label}
		for j, v := range b.Values {
			if j >= len(c.Series) || v < 0 {
				continue
			}
			tip = append(tip, fmt.Sprintf("%s: %s", c.Series[j].Name, fmtDur(v)))
			if v == 0 || top == 0 {
				continue
			}
			h := float64(v) / float64(top) * float64(plotH)
			fmt.Fprintf(w, "<rect x=\"%d\" y=\"%.2f\" width=\"%d\" height=\"%.2f\" fill=\"%s\"><title>%s: %s</title></rect>\n",
				x0+j*barW, float64(base)-h, barW-1, h, e(c.Series[j].Color), e(b.Label), e(c.Series[j].Name+" "+fmtDur(v)))
		}
		if b.Note != "" {
			tip = append(tip, b.Note)
		}
		fmt.Fprintf(w, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"transparent\" class=\"bar\"><title>%s</title></rect>\n",
			x0, chartTop, barW*k, plotH, e(strings.Join(tip, "\n")))
		fmt.Fprintf(w, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">%s</text>\n", x0+barW*k/2, base+14, e(clipLabel(b.Label, max(3, groupW/6))))
	}
	w.WriteString("</svg></div>\n")
	if c.Caption != "" {
		fmt.Fprintf(w, "<p class=\"note\">%s</p>\n", e(c.Caption))
	}
}

// clipLabel cuts an axis label to n characters.
func clipLabel(l string, n int) string {
	r := []rune(l)
	if len(r) <= n {
		return l
	}
	return string(r[:n-1]) + "…"
}

// shortLabel is the axis label of a bar: its first word group up to a
// space and parenthesis ("12" of "12 (decode)").
func shortLabel(l string) string {
	if i := strings.IndexAny(l, " ("); i > 0 {
		return l[:i]
	}
	return l
}
