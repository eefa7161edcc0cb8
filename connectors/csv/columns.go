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
	width  int
	fields []fieldColumn
	// attrs holds the column of each requested attribute, in the
	// request's order.
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

// mapColumns finds every column req names in header, or reports all that
// are missing at once, with the columns the header does have.
func mapColumns(header []string, req connectors.ReadRequest) (*columns, error) {
	index := make(map[string]int, len(header))
	for i, h := range header {
		if _, dup := index[h]; dup {
			index[h] = -1 // ambiguous: an error only if requested
			continue
		}
		index[h] = i
	}
	c := &columns{width: len(header), key: -1, adUserData: -1, adPersonalization: -1}
	var problems []string
	find := func(name, role string) int {
		i, ok := index[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("column %q (%s) is not in the header", name, role))
		case i < 0:
			problems = append(problems, fmt.Sprintf("column %q (%s) appears more than once in the header", name, role))
		}
		return i
	}
	for _, k := range audience.Kinds() {
		if name, ok := req.Fields[k]; ok && name != "" {
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
		return nil, fmt.Errorf("%s; %s", strings.Join(problems, "; "), describeHeader(header))
	}
	return c, nil
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
	for _, f := range c.fields {
		m.Fields[f.kind] = rec[f.index]
	}
	for i := range c.attrs {
		a := &c.attrs[i]
		m.Attrs[i] = a.attr.Parse(rec[a.index])
	}
	if c.key >= 0 {
		m.Key = strings.TrimSpace(rec[c.key])
		if m.Key == "" {
			return ReasonMissingKey
		}
	}
	var err error
	if c.adUserData >= 0 {
		if m.Consent.AdUserData, err = audience.ParseConsent(rec[c.adUserData]); err != nil {
			return ReasonInvalidConsent
		}
	}
	if c.adPersonalization >= 0 {
		if m.Consent.AdPersonalization, err = audience.ParseConsent(rec[c.adPersonalization]); err != nil {
			return ReasonInvalidConsent
		}
	}
	return ""
}
