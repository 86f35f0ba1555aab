package format

import (
	"io"
	"strings"
	"text/tabwriter"
)

// Table collects rows and prints them with aligned columns.
type Table struct {
	header []string
	rows   [][]string
}

// NewTable starts a table with the given column names.
func NewTable(columns ...string) *Table { return &Table{header: columns} }

// Row appends a row; missing cells print empty.
func (t *Table) Row(cells ...string) { t.rows = append(t.rows, cells) }

// Len is the number of rows.
func (t *Table) Len() int { return len(t.rows) }

// Write prints the header and rows to w, columns separated by at least two
// spaces. Tabs and newlines inside cells are replaced by spaces so they
// cannot break the layout.
func (t *Table) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cells []string) {
		clean := make([]string, len(t.header))
		for i := range clean {
			if i < len(cells) {
				clean[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(cells[i])
			}
		}
		io.WriteString(tw, strings.Join(clean, "\t")+"\n")
	}
	line(t.header)
	for _, r := range t.rows {
		line(r)
	}
	return tw.Flush()
}
