package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSet(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("member.1@example.com"))
	hash := hex.EncodeToString(sum[:])
	values := []string{
		hash,
		strings.ToUpper(hash), // not the canonical spelling: kept as written
		"address:" + hash + "|" + hash + "|US|10001",
		"mobile:00000000-0000-4000-8000-000000000001",
		"",
	}
	var s Set
	require.Zero(t, s.Len())
	require.Empty(t, s.Sorted())
	require.False(t, s.Remove(hash), "removing from the zero set")
	for _, v := range values {
		require.True(t, s.Add(v), "add %q", v)
		require.False(t, s.Add(v), "add %q again", v)
	}
	require.Equal(t, len(values), s.Len())
	want := slices.Clone(values)
	slices.Sort(want)
	require.Equal(t, want, s.Sorted())

	copied := s
	require.True(t, copied.Remove(values[2]))
	require.Equal(t, len(values)-1, s.Len(), "a copy shares its contents")
	require.False(t, s.Remove(values[2]))
	require.True(t, s.Remove(hash))
	require.Equal(t, []string{"", strings.ToUpper(hash), values[3]}, s.Sorted())

	require.Equal(t, s.Sorted(), SetOf(s.Sorted()).Sorted())
}

// TestSetCompacts removes most of a large set of values that are not
// hashes, so the shared text is rewritten, and checks what is left.
func TestSetCompacts(t *testing.T) {
	t.Parallel()
	var s Set
	var kept []string
	for i := range 40000 {
		v := fmt.Sprintf("address:%064d|%064d|US|%05d", i, i, i%100000)
		require.True(t, s.Add(v))
		if i%10 == 0 {
			kept = append(kept, v)
		}
	}
	for i := range 40000 {
		if i%10 != 0 {
			require.True(t, s.Remove(fmt.Sprintf("address:%064d|%064d|US|%05d", i, i, i%100000)))
		}
	}
	require.Less(t, s.size, 40000*150/2, "the text was compacted")
	slices.Sort(kept)
	require.Equal(t, kept, s.Sorted())
	for _, v := range kept {
		require.False(t, s.Add(v), "%q is still found after compaction", v)
	}
}

// TestSetPeople counts persons, not identifiers: a row is one person,
// known by its first value; a row with the same first value is the same
// person, rows sharing only a later value (one phone number) are two; a
// person is counted while the value that stands for them is in the set.
func TestSetPeople(t *testing.T) {
	t.Parallel()
	h := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	email1, phone1, email2, phone2 := h("a@example.com"), h("15555550100"), h("b@example.com"), h("15555550101")
	for _, tc := range []struct {
		name      string
		rows      [][]string
		remove    []string
		values    int
		people    int
		secondary int // values that stand for no person
	}{
		{name: "empty"},
		{name: "one row of two keys is one person", rows: [][]string{{email1, phone1}}, values: 2, people: 1, secondary: 1},
		{name: "two people", rows: [][]string{{email1, phone1}, {email2, phone2}}, values: 4, people: 2, secondary: 2},
		{name: "a row sent again", rows: [][]string{{email1, phone1}, {email1, phone1}}, values: 2, people: 1, secondary: 1},
		{name: "a value repeated in a row", rows: [][]string{{email1, email1, phone1}}, values: 2, people: 1, secondary: 1},
		{name: "a person gains a phone", rows: [][]string{{email1}, {email1, phone1}}, values: 2, people: 1, secondary: 1},
		{name: "two people share a phone", rows: [][]string{{email1, phone1}, {email2, phone1}}, values: 3, people: 2, secondary: 1},
		{name: "a phone alone is a person", rows: [][]string{{email1, phone1}, {phone1}}, values: 2, people: 2},
		{name: "a person stays while their first key does", rows: [][]string{{email1, phone1}, {email2}}, remove: []string{phone1}, values: 2, people: 2},
		{name: "and leaves with it", rows: [][]string{{email1, phone1}, {email2}}, remove: []string{email1}, values: 2, people: 1, secondary: 1},
		{name: "an e-mail changed", rows: [][]string{{email1, phone1}, {email2, phone1}}, remove: []string{email1}, values: 2, people: 1, secondary: 1},
		{name: "values that are not hashes", rows: [][]string{{"madid:synthetic-1", "extern_id:synthetic-1"}, {"row:FN=" + email1}}, values: 3, people: 2, secondary: 1},
		{name: "removed and gone", rows: [][]string{{email1, phone1}}, remove: []string{email1, phone1, email1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s Set
			for _, r := range tc.rows {
				s.AddRow(r)
			}
			for _, v := range tc.remove {
				s.Remove(v)
			}
			require.Equal(t, tc.values, s.Len())
			require.Equal(t, tc.people, s.People())
			require.Len(t, s.Secondary(), tc.secondary)

			back, err := SetOfPeople(s.Sorted(), s.Secondary())
			require.NoError(t, err)
			require.Equal(t, s.Sorted(), back.Sorted(), "a snapshot keeps the values")
			require.Equal(t, s.People(), back.People(), "and who stands for a person")
			require.Equal(t, s.Secondary(), back.Secondary())
			saved, err := s.Save().Set()
			require.NoError(t, err)
			require.Equal(t, s.Sorted(), saved.Sorted(), "Save and Set keep the values")
			require.Equal(t, s.People(), saved.People(), "and who stands for a person")
		})
	}

	var s Set
	require.Equal(t, 2, s.AddRow([]string{email1, phone1}))
	require.True(t, s.Add(email2), "Add makes a person of its own")
	require.False(t, s.Add(phone1), "phone1 is there already")
	require.Equal(t, 3, s.People(), "but now stands for a person too, as a row of it alone would")
	require.Equal(t, 1, s.AddRow([]string{email2, h("c@example.com")}), "only the second value is new")
	require.Equal(t, 3, s.People())
	require.Nil(t, SetOf([]string{email1, phone1}).Secondary(), "a set of single values has nothing to say")
	_, err := SetOfPeople([]string{email1}, []int{1})
	require.Error(t, err, "a position past the members")
	_, err = SetOfPeople([]string{email1, phone1}, []int{1, 0})
	require.Error(t, err, "positions out of order")
	_, err = SavedMembers{Members: []string{email1}, Secondary: []int{1}}.Set()
	require.Error(t, err, "a saved position past the members")
}

// BenchmarkSetAddRows adds rows of an e-mail and a phone hash, as a
// Meta or Google upload of a million members does.
func BenchmarkSetAddRows(b *testing.B) {
	const n = 200_000
	rows := make([][]string, n)
	for i := range rows {
		e, p := sha256.Sum256(fmt.Appendf(nil, "e%d", i)), sha256.Sum256(fmt.Appendf(nil, "p%d", i))
		rows[i] = []string{hex.EncodeToString(e[:]), hex.EncodeToString(p[:])}
	}
	b.ResetTimer()
	for range b.N {
		var s Set
		for _, r := range rows {
			s.AddRow(r)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
}

// TestSetPeopleWhere counts the people whose standing value passes the
// predicate, hashes and other values alike; values that stand for no
// person are not asked about.
func TestSetPeopleWhere(t *testing.T) {
	t.Parallel()
	h := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	var s Set
	require.Zero(t, s.PeopleWhere(func(string) bool { return true }), "an empty set")
	a, b, c := h("a@example.com"), h("b@example.com"), h("c@example.com")
	s.AddRow([]string{a, "madid:synthetic-1"})
	s.AddRow([]string{b, c})
	s.Add("madid:synthetic-2")
	asked := map[string]bool{}
	n := s.PeopleWhere(func(v string) bool { asked[v] = true; return v == a || v == "madid:synthetic-2" })
	require.Equal(t, 2, n)
	require.Equal(t, map[string]bool{a: true, b: true, "madid:synthetic-2": true}, asked, "only the values that stand for a person")
	require.Equal(t, 3, s.PeopleWhere(func(string) bool { return true }))
	require.Equal(t, s.People(), s.PeopleWhere(func(string) bool { return true }))
}
