package sql

import (
	dbsql "database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

// columns says where in a result row each part of a member is, and holds
// the row being scanned.
type columns struct {
	vals []any
	dest []any // pointers into vals, for Scan
	// date marks DATE columns, written without a time of day.
	date []bool
	connectors.ColumnMap
}

// mappingError is a mapping that names columns the query does not return.
type mappingError struct{ msg string }

func (e *mappingError) Error() string { return e.msg }

// mapColumns finds every column req names among the query's result
// columns, or reports all that are missing at once, with those the query
// does return. Names match exactly, then ignoring case, as unquoted names
// fold case in SQL.
func mapColumns(rows *dbsql.Rows, req connectors.ReadRequest) (*columns, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("read the result columns: %w", err)
	}
	c := &columns{vals: make([]any, len(types)), dest: make([]any, len(types)), date: make([]bool, len(types))}
	names := make([]string, len(types))
	for i, t := range types {
		c.dest[i] = &c.vals[i]
		c.date[i] = strings.EqualFold(t.DatabaseTypeName(), "DATE")
		names[i] = t.Name()
	}
	m, problems := connectors.MapColumns(names, req, true)
	if len(problems) > 0 {
		return nil, &mappingError{fmt.Sprintf("%s; the query returns %s: map source.fields, key and consent to these names, or alias the columns in the query (SELECT mail AS email)",
			connectors.DescribeColumnProblems(problems, "the query's result", ": give it an alias"), quoteAll(names))}
	}
	c.ColumnMap = m
	return c, nil
}

func quoteAll(names []string) string {
	if len(names) == 0 {
		return "no columns"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// fill sets m from the scanned row, or returns why the row is rejected.
func (c *columns) fill(m *audience.Member) string {
	attrs := m.Attrs // kept from row to row: the engine copies the values
	*m = audience.Member{}
	for _, f := range c.Fields {
		m.Fields[f.Kind] = c.text(f.Index)
	}
	if len(c.Attrs) > 0 {
		if cap(attrs) < len(c.Attrs) {
			attrs = make([]audience.Value, len(c.Attrs))
		}
		m.Attrs = attrs[:len(c.Attrs)]
		// Typed columns arrive as text the attribute parser reads:
		// RFC 3339 timestamps, plain decimals, true/false.
		for i, a := range c.Attrs {
			m.Attrs[i] = a.Attr.Parse(c.text(a.Index))
		}
	}
	if c.Key >= 0 {
		m.Key = strings.TrimSpace(c.text(c.Key))
		if m.Key == "" {
			return ReasonMissingKey
		}
	}
	var err error
	if c.AdUserData >= 0 {
		if m.Consent.AdUserData, err = audience.ParseConsent(c.text(c.AdUserData)); err != nil {
			return ReasonInvalidConsent
		}
	}
	if c.AdPersonalization >= 0 {
		if m.Consent.AdPersonalization, err = audience.ParseConsent(c.text(c.AdPersonalization)); err != nil {
			return ReasonInvalidConsent
		}
	}
	return ""
}

// text writes column i's value as the normaliser reads text.
func (c *columns) text(i int) string {
	switch v := c.vals[i].(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		// Plain digits: a phone number kept as a double must not
		// become 3.3612345678e+10.
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		if c.date[i] {
			return v.Format(time.DateOnly)
		}
		return v.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(v)
	}
}
