package csv

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

// columns says where in a row each part of a member is.
type columns struct {
	width int
	connectors.ColumnMap
}

// mapColumns finds every column req names in header, or reports all that
// are missing at once, with the columns the header does have.
func mapColumns(header []string, req connectors.ReadRequest) (*columns, error) {
	m, problems := connectors.MapColumns(header, req, false)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s; %s", connectors.DescribeColumnProblems(problems, "the header", ""), describeHeader(header))
	}
	return &columns{width: len(header), ColumnMap: m}, nil
}

// maxListedColumns bounds the header listing in errors.
const maxListedColumns = 40

// describeHeader lists the header's columns for an error message, unless
// the first row looks like data rather than names: a file without a header
// must not have its first contact printed.
func describeHeader(header []string) string {
	for _, h := range header {
		if looksLikeData(h) {
			return "the first row does not look like a header (it holds an address or a long number): the first row must name the columns"
		}
	}
	listed := header
	more := ""
	if len(listed) > maxListedColumns {
		listed, more = listed[:maxListedColumns], fmt.Sprintf(" and %d more", len(header)-maxListedColumns)
	}
	q := make([]string, len(listed))
	for i, h := range listed {
		q[i] = fmt.Sprintf("%q", h)
	}
	return fmt.Sprintf("the header has %s%s: map fields to these names", strings.Join(q, ", "), more)
}

func looksLikeData(s string) bool {
	digits := 0
	for _, r := range s {
		if r == '@' {
			return true
		}
		if unicode.IsDigit(r) {
			digits++
		}
	}
	return digits >= 5
}

// fill sets m from rec, or returns why the row is rejected.
func (c *columns) fill(m *audience.Member, rec []string) string {
	if len(rec) != c.width {
		return ReasonMalformed
	}
	m.Reset()
	for _, f := range c.Fields {
		m.Fields[f.Kind] = rec[f.Index]
	}
	for i := range c.Attrs {
		a := &c.Attrs[i]
		m.Attrs[i] = a.Attr.Parse(rec[a.Index])
	}
	if c.Key >= 0 {
		m.Key = strings.TrimSpace(rec[c.Key])
		if m.Key == "" {
			return ReasonMissingKey
		}
	}
	var err error
	if c.AdUserData >= 0 {
		if m.Consent.AdUserData, err = audience.ParseConsent(rec[c.AdUserData]); err != nil {
			return ReasonInvalidConsent
		}
	}
	if c.AdPersonalization >= 0 {
		if m.Consent.AdPersonalization, err = audience.ParseConsent(rec[c.AdPersonalization]); err != nil {
			return ReasonInvalidConsent
		}
	}
	return ""
}
