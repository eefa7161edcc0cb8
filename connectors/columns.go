package connectors

import (
	"fmt"
	"strings"

	"github.com/audiencesync/audiencesync/audience"
)

// ColumnMap says which column of a row holds each part of a member a
// ReadRequest names. Row-shaped sources (CSV, SQL) build one from the
// names of their columns.
type ColumnMap struct {
	Fields []FieldColumn
	// Attrs holds the column of each requested attribute, in the
	// request's order.
	Attrs []AttrColumn
	// Indexes of the key and consent columns, -1 when not mapped.
	Key, AdUserData, AdPersonalization int
}

// FieldColumn is the column of one contact field.
type FieldColumn struct {
	Kind  audience.Kind
	Index int
}

// AttrColumn is the column of one requested attribute.
type AttrColumn struct {
	Attr  Attribute
	Index int
}

// ColumnProblem is a column a mapping names that the row cannot give:
// missing, or named by more than one column (Ambiguous).
type ColumnProblem struct {
	Name, Role string
	Ambiguous  bool
}

// MapColumns finds, among names, the column of every part of a member req
// names. Names match exactly, then, with foldCase, ignoring case. A name
// that several columns carry is ambiguous, a problem only if req names it.
// Problems lists every column that could not be found, so that one error
// can name them all.
func MapColumns(names []string, req ReadRequest, foldCase bool) (ColumnMap, []ColumnProblem) {
	exact := make(map[string]int, len(names))
	var folded map[string]int
	if foldCase {
		folded = make(map[string]int, len(names))
	}
	for i, n := range names {
		indexColumn(exact, n, i)
		if foldCase {
			indexColumn(folded, strings.ToLower(n), i)
		}
	}
	m := ColumnMap{Key: -1, AdUserData: -1, AdPersonalization: -1}
	var problems []ColumnProblem
	find := func(name, role string) int {
		i, ok := exact[name]
		if !ok && foldCase {
			i, ok = folded[strings.ToLower(name)]
		}
		switch {
		case !ok:
			problems = append(problems, ColumnProblem{Name: name, Role: role})
			return -1
		case i < 0:
			problems = append(problems, ColumnProblem{Name: name, Role: role, Ambiguous: true})
		}
		return i
	}
	for _, k := range audience.Kinds() {
		if name := req.Fields[k]; name != "" {
			if i := find(name, "field "+k.String()); i >= 0 {
				m.Fields = append(m.Fields, FieldColumn{Kind: k, Index: i})
			}
		}
	}
	for _, a := range req.Attributes {
		if i := find(a.Field, "attribute "+a.Name); i >= 0 {
			m.Attrs = append(m.Attrs, AttrColumn{Attr: a, Index: i})
		}
	}
	if req.Key != "" {
		m.Key = find(req.Key, "key")
	}
	if req.Consent.AdUserData != "" {
		m.AdUserData = find(req.Consent.AdUserData, "consent ad_user_data")
	}
	if req.Consent.AdPersonalization != "" {
		m.AdPersonalization = find(req.Consent.AdPersonalization, "consent ad_personalization")
	}
	return m, problems
}

// DescribeColumnProblems joins problems into one sentence: where says
// what holds the columns ("the header"), ambiguousHint (may be empty) what
// to do about a name given twice.
func DescribeColumnProblems(problems []ColumnProblem, where, ambiguousHint string) string {
	msgs := make([]string, len(problems))
	for i, p := range problems {
		if p.Ambiguous {
			msgs[i] = fmt.Sprintf("column %q (%s) appears more than once in %s%s", p.Name, p.Role, where, ambiguousHint)
		} else {
			msgs[i] = fmt.Sprintf("column %q (%s) is not in %s", p.Name, p.Role, where)
		}
	}
	return strings.Join(msgs, "; ")
}

// indexColumn records that column i is named name; a name given twice is
// marked -1, ambiguous.
func indexColumn(m map[string]int, name string, i int) {
	if _, dup := m[name]; dup {
		m[name] = -1
		return
	}
	m[name] = i
}
