package salesforce

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CSVRows reads a Bulk API 2.0 results page (comma-delimited, LF or CRLF
// line ends, RFC 4180 quoting, a header row naming the columns) one
// record at a time, in constant memory: the page is never read whole, and
// the record slice is reused. Nulls are empty values.
type CSVRows struct {
	r      *csv.Reader
	header []string
	index  map[string]int // lowercased column name → position
	rows   int64
}

// NewCSVRows reads the header row of r.
func NewCSVRows(r io.Reader) (*CSVRows, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the results page is empty: it has no header row")
	}
	if err != nil {
		return nil, fmt.Errorf("read the results' header row: %w", err)
	}
	c := &CSVRows{r: cr, header: append([]string(nil), header...), index: make(map[string]int, len(header))}
	for i, h := range c.header {
		k := strings.ToLower(strings.TrimSpace(h))
		if k == "" {
			return nil, fmt.Errorf("the results' header row has an empty column name (column %d)", i+1)
		}
		if _, dup := c.index[k]; dup {
			return nil, fmt.Errorf("the results' header row names column %q twice", h)
		}
		c.index[k] = i
	}
	cr.FieldsPerRecord = len(header)
	return c, nil
}

// Header returns the column names, in the page's order.
func (c *CSVRows) Header() []string { return c.header }

// Column returns the position of the column named name (ignoring case),
// or -1.
func (c *CSVRows) Column(name string) int {
	if i, ok := c.index[strings.ToLower(name)]; ok {
		return i
	}
	return -1
}

// Next returns the next record, valid until the next call, with one value
// per header column; io.EOF after the last.
func (c *CSVRows) Next() ([]string, error) {
	rec, err := c.r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		// A csv.ParseError names line and column, never the content.
		return nil, fmt.Errorf("results record %d: %w", c.rows+1, err)
	}
	c.rows++
	return rec, nil
}

// Rows is how many records Next has returned.
func (c *CSVRows) Rows() int64 { return c.rows }

// Columns maps the plan's columns to positions in this page.
func (c *CSVRows) Columns(cols []string) ([]int, error) {
	pos := make([]int, len(cols))
	for i, col := range cols {
		if pos[i] = c.Column(col); pos[i] < 0 {
			return nil, fmt.Errorf("the results have no column %s: add it to the query's SELECT list", col)
		}
	}
	return pos, nil
}
