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
	date   []bool
	fields []fieldColumn
	// attrs are the requested attributes' columns, in request order.
	attrs []attrColumn
	// Indexes of the key and consent columns, -1 when not mapped.
	key, adUserData, adPersonalization int
}

type fieldColumn struct {
	kind  audience.Kind
	index int
}

type attrColumn struct {
	attr  connectors.Attribute
	index int
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
	c := &columns{vals: make([]any, len(types)), dest: make([]any, len(types)), date: make([]bool, len(types)),
		key: -1, adUserData: -1, adPersonalization: -1}
	exact := make(map[string]int, len(types))
	folded := make(map[string]int, len(types))
	names := make([]string, len(types))
	for i, t := range types {
		c.dest[i] = &c.vals[i]
		c.date[i] = strings.EqualFold(t.DatabaseTypeName(), "DATE")
		names[i] = t.Name()
		index(exact, t.Name(), i)
		index(folded, strings.ToLower(t.Name()), i)
	}
	var problems []string
	find := func(name, role string) int {
		i, ok := exact[name]
		if !ok {
			i, ok = folded[strings.ToLower(name)]
		}
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("column %q (%s) is not in the query's result", name, role))
		case i < 0:
			problems = append(problems, fmt.Sprintf("column %q (%s) appears more than once in the query's result: give it an alias", name, role))
		}
		return i
	}
	for _, k := range audience.Kinds() {
		if name := req.Fields[k]; name != "" {
			if i := find(name, "field "+k.String()); i >= 0 {
				c.fields = append(c.fields, fieldColumn{kind: k, index: i})
			}
		}
	}
	for _, a := range req.Attributes {
		if i := find(a.Field, "attribute "+a.Name); i >= 0 {
			c.attrs = append(c.attrs, attrColumn{attr: a, index: i})
		}
	}
	if req.Key != "" {
		c.key = find(req.Key, "key")
	}
	if req.Consent.AdUserData != "" {
		c.adUserData = find(req.Consent.AdUserData, "consent ad_user_data")
	}
	if req.Consent.AdPersonalization != "" {
		c.adPersonalization = find(req.Consent.AdPersonalization, "consent ad_personalization")
	}
	if len(problems) > 0 {
		return nil, &mappingError{fmt.Sprintf("%s; the query returns %s: map source.fields, key and consent to these names, or alias the columns in the query (SELECT mail AS email)",
			strings.Join(problems, "; "), quoteAll(names))}
	}
	return c, nil
}

// index records that column i is named name; a name given twice is
// ambiguous, an error only if a mapping names it.
func index(m map[string]int, name string, i int) {
	if _, dup := m[name]; dup {
		m[name] = -1
		return
	}
	m[name] = i
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
	for _, f := range c.fields {
		m.Fields[f.kind] = c.text(f.index)
	}
	if len(c.attrs) > 0 {
		if cap(attrs) < len(c.attrs) {
			attrs = make([]audience.Value, len(c.attrs))
		}
		m.Attrs = attrs[:len(c.attrs)]
		// Typed columns arrive as text the attribute parser reads:
		// RFC 3339 timestamps, plain decimals, true/false.
		for i, a := range c.attrs {
			m.Attrs[i] = a.attr.Parse(c.text(a.index))
		}
	}
	if c.key >= 0 {
		m.Key = strings.TrimSpace(c.text(c.key))
		if m.Key == "" {
			return ReasonMissingKey
		}
	}
	var err error
	if c.adUserData >= 0 {
		if m.Consent.AdUserData, err = audience.ParseConsent(c.text(c.adUserData)); err != nil {
			return ReasonInvalidConsent
		}
	}
	if c.adPersonalization >= 0 {
		if m.Consent.AdPersonalization, err = audience.ParseConsent(c.text(c.adPersonalization)); err != nil {
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
