package report

import (
	"bytes"
	"strings"
	"testing"
)

func testDoc() Document {
	return Document{Title: "T", Meta: []string{"one file"}, Sections: []Section{
		{Title: "Chart only", Chart: &Chart{Series: []Series{{Name: "a", Color: "#111"}, {Name: "b", Color: "#222"}},
			Bars: []Bar{{Label: "0 (decode)", Values: []int64{3000, 1000}}, {Label: "1 (prefill)", Values: []int64{-1, 2000}, Note: "wall 9 µs"}}}},
		{Title: "Numbers", Table: &Table{Columns: []Column{{Name: "name"}, {Name: "n", Right: true}, {Name: "x"}},
			Rows: [][]string{{"k<1>", "5", "a & b"}, {strings.Repeat("z", 70), "12345", ""}}}, Notes: []string{"a note"}},
		{Title: "Check", List: []ListItem{{Status: "flag", Head: "h", Body: "b", Sub: []string{"e1"}}, {Status: "ok", Head: "h2", Body: "b2"}}},
	}}
}

func TestRenderText(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderText(&buf, testDoc()); err != nil {
		t.Fatal(err)
	}
	want := "T\n=\none file\n\nNumbers\n-------\n" +
		"name                                                              n  x\n" +
		"------------------------------------------------------------  -----  -----\n" +
		"k<1>                                                              5  a & b\n" +
		strings.Repeat("z", 59) + "…  12345\n" +
		"a note\n\nCheck\n-----\n[flag] h: b\n       - e1\n[ok  ] h2: b2\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRenderHTMLIsSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderHTML(&buf, testDoc()); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"http:", "https:", "<script", "<link", "@import", "url(", "src="} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{
		"<td class=\"name\" title=\"k&lt;1&gt;\">k&lt;1&gt;</td><td class=\"r\">5</td><td class=\"name\" title=\"a &amp; b\">a &amp; b</td>",
		// The full name in HTML, not cut as on a terminal.
		strings.Repeat("z", 70) + "</td>",
		"<span class=\"st st-flag\">flag</span><b>h</b>: b<ul><li>e1</li></ul>",
		// Bar 0: 3000 of the largest total 4000 in a 230-unit plot is
		// 172.5 units tall; bar 1 has no "a" segment.
		"<rect x=\"57\" y=\"65.50\" width=\"22\" height=\"172.50\" fill=\"#111\"><title>0 (decode): a 3.0 µs</title></rect>",
		"<title>1 (prefill)\nb: 2.0 µs\nwall 9 µs</title>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Count(page, "<rect") != 5 || !strings.HasSuffix(page, "</body></html>\n") {
		t.Errorf("page:\n%s", page)
	}
}

func TestRenderHTMLSideBySide(t *testing.T) {
	d := Document{Title: "D", Sections: []Section{{Title: "S", Chart: &Chart{ID: "c1", SideBySide: true,
		Series: []Series{{Name: "base", Color: "#111"}, {Name: "new", Color: "#222"}},
		Bars:   []Bar{{Label: "gemm", Values: []int64{2000, 4000}}, {Label: "attn", Values: []int64{1000, -1}}}}}}}
	var buf bytes.Buffer
	if err := RenderHTML(&buf, d); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	// 2 groups x 2 series: barW = min(24, 900/4) = 24, group 54 wide.
	// Largest single value 4000 is the full 230-unit plot; 2000 is half.
	for _, want := range []string{
		`<svg id="c1" width="174"`,
		`<rect x="59" y="123.00" width="23" height="115.00" fill="#111"><title>gemm: base 2.0 µs</title></rect>`,
		`<rect x="83" y="8.00" width="23" height="230.00" fill="#222"><title>gemm: new 4.0 µs</title></rect>`,
		`<rect x="113" y="180.50" width="23" height="57.50" fill="#111"><title>attn: base 1.0 µs</title></rect>`,
		"<title>attn\nbase: 1.0 µs</title>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q\n%s", want, page)
		}
	}
	if got := strings.Count(page, `class="bar"`); got != 2 {
		t.Errorf("%d bar targets, want 2", got)
	}
	if got := strings.Count(page, "<rect"); got != 5 {
		t.Errorf("%d rects, want 5 (3 values, 2 targets)", got)
	}
}
