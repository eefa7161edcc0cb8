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

// TestSetPeople counts persons, not identifiers: a row's values are one
// person, a later row sharing a value joins (and may merge) persons, and a
// person stays while any of its values is in the set.
func TestSetPeople(t *testing.T) {
	t.Parallel()
	h := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	email1, phone1, email2, phone2, email3 := h("a@example.com"), h("15555550100"), h("b@example.com"), h("15555550101"), h("c@example.com")
	for _, tc := range []struct {
		name     string
		rows     [][]string
		remove   []string
		values   int
		people   int
		together int // persons of more than one value
	}{
		{name: "empty", values: 0, people: 0},
		{name: "one row of two keys is one person", rows: [][]string{{email1, phone1}}, values: 2, people: 1, together: 1},
		{name: "two people", rows: [][]string{{email1, phone1}, {email2, phone2}}, values: 4, people: 2, together: 2},
		{name: "a row repeated", rows: [][]string{{email1, phone1}, {email1, phone1}}, values: 2, people: 1, together: 1},
		{name: "a value repeated in a row", rows: [][]string{{email1, email1, phone1}}, values: 2, people: 1, together: 1},
		{name: "a later row joins a person", rows: [][]string{{email1}, {email1, phone1}}, values: 2, people: 1, together: 1},
		{name: "a row merges two persons", rows: [][]string{{email1}, {phone1}, {email3}, {email1, phone1}}, values: 3, people: 2, together: 1},
		{name: "a person stays while a value does", rows: [][]string{{email1, phone1}, {email2}}, remove: []string{email1}, values: 2, people: 2},
		{name: "a person goes with its last value", rows: [][]string{{email1, phone1}, {email2}}, remove: []string{email1, phone1}, values: 1, people: 1},
		{name: "values that are not hashes", rows: [][]string{{"madid:synthetic-1", "extern_id:synthetic-1"}, {"row:FN=" + email1}}, values: 3, people: 2, together: 1},
		{name: "removed then added again", rows: [][]string{{email1, phone1}}, remove: []string{email1, phone1, email1}, values: 0, people: 0},
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
			require.Len(t, s.Together(), tc.together)

			back, err := SetOfPeople(s.Sorted(), s.Together())
			require.NoError(t, err)
			require.Equal(t, s.Sorted(), back.Sorted(), "a snapshot keeps the values")
			require.Equal(t, s.People(), back.People(), "and who is one person")
			require.Equal(t, s.Together(), back.Together())
		})
	}

	var s Set
	require.Equal(t, 2, s.AddRow([]string{email1, phone1}))
	require.True(t, s.Add(email2), "Add makes a person of its own")
	require.False(t, s.Add(phone1))
	require.Equal(t, 2, s.People())
	require.Equal(t, 1, s.AddRow([]string{email2, email3, phone1}), "only email3 is new")
	require.Equal(t, 1, s.People(), "the row joined both persons")
	_, err := SetOfPeople([]string{email1}, [][]int{{0, 1}})
	require.Error(t, err, "a position past the members")
}
