package report

// Document is a rendered-agnostic report: a title, a few lines under it,
// and sections of tables, charts and checklists. RenderText and RenderHTML
// draw any Document; inspect builds one from a Report (Report.Document),
// other commands build their own.
type Document struct {
	Title    string
	Meta     []string
	Sections []Section
}

// Section is one titled part of a document. Any of its parts may be
// empty; they are drawn in the order Text, Chart, List, Table, Notes.
type Section struct {
	Title string
	Text  []string
	Chart *Chart
	List  []ListItem
	Table *Table
	Notes []string
}

// Table is a plain grid of cells; "n/a" is the cell of a missing value.
type Table struct {
	Columns []Column
	Rows    [][]string
}

// Column is one table column.
type Column struct {
	Name  string
	Right bool // right-aligned (numbers)
}

// ListItem is one checklist entry.
type ListItem struct {
	Status string // "flag", "ok", "info", "n/a"
	Head   string
	Body   string
	Sub    []string
}

// Chart is a stacked bar chart: one bar per label, one segment per
// series; with SideBySide, one group per label of one bar per series,
// next to each other (base vs new). Only RenderHTML draws it.
type Chart struct {
	// ID is the SVG element's id; empty is "step-chart". A document with
	// several charts gives each its own.
	ID         string
	SideBySide bool
	Unit       string // of the values, e.g. "ns"
	Series     []Series
	Bars       []Bar
	// Caption says what the bars show.
	Caption string
}

// Series is one stacked segment kind.
type Series struct {
	Name  string
	Color string // CSS color
}

// Bar is one stacked bar: Values[i] belongs to Series[i]; a negative
// value is missing (drawn as nothing).
type Bar struct {
	Label  string
	Values []int64
	Note   string // tooltip line after the values
}
