package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxCell is the widest a terminal table cell may be; longer ones are cut
// with an ellipsis (kernel names can run to hundreds of characters).
const maxCell = 60

// RenderText writes d for a terminal: aligned tables, the checklist as a
// list; charts are left out.
func RenderText(w io.Writer, d Document) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, d.Title)
	fmt.Fprintln(bw, strings.Repeat("=", utf8.RuneCountInString(d.Title)))
	for _, m := range d.Meta {
		fmt.Fprintln(bw, m)
	}
	for _, s := range d.Sections {
		if len(s.Text) == 0 && len(s.List) == 0 && s.Table == nil && len(s.Notes) == 0 {
			continue // a chart only: nothing to draw here
		}
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, s.Title)
		fmt.Fprintln(bw, strings.Repeat("-", utf8.RuneCountInString(s.Title)))
		for _, t := range s.Text {
			fmt.Fprintln(bw, t)
		}
		for _, it := range s.List {
			fmt.Fprintf(bw, "[%-4s] %s: %s\n", it.Status, it.Head, it.Body)
			for _, sub := range it.Sub {
				fmt.Fprintf(bw, "       - %s\n", sub)
			}
		}
		if s.Table != nil {
			writeTextTable(bw, s.Table)
		}
		for _, n := range s.Notes {
			fmt.Fprintln(bw, n)
		}
	}
	return bw.Flush()
}

func cut(s string) string {
	if utf8.RuneCountInString(s) <= maxCell {
		return s
	}
	r := []rune(s)
	return string(r[:maxCell-1]) + "…"
}

func writeTextTable(w io.Writer, t *Table) {
	width := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		width[i] = utf8.RuneCountInString(c.Name)
	}
	for _, row := range t.Rows {
		for i := range t.Columns {
			if i < len(row) {
				width[i] = max(width[i], utf8.RuneCountInString(cut(row[i])))
			}
		}
	}
	line := func(cells func(i int) string) {
		var b strings.Builder
		for i, c := range t.Columns {
			if i > 0 {
				b.WriteString("  ")
			}
			v := cells(i)
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(v))
			if c.Right {
				b.WriteString(pad + v)
			} else if i < len(t.Columns)-1 {
				b.WriteString(v + pad)
			} else {
				b.WriteString(v)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(func(i int) string { return t.Columns[i].Name })
	line(func(i int) string { return strings.Repeat("-", width[i]) })
	for _, row := range t.Rows {
		line(func(i int) string {
			if i < len(row) {
				return cut(row[i])
			}
			return ""
		})
	}
}
