package normalize_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
)

func TestNewProfileRefusesBadSpecs(t *testing.T) {
	t.Parallel()
	email := normalize.Field{Kind: audience.Email, Rule: normalize.Email}
	for name, spec := range map[string]normalize.Spec{
		"no name":        {Fields: []normalize.Field{email}},
		"no kinds":       {Name: "p"},
		"kind twice":     {Name: "p", Fields: []normalize.Field{email, email}},
		"no rule":        {Name: "p", Fields: []normalize.Field{{Kind: audience.Email}}},
		"invalid kind":   {Name: "p", Fields: []normalize.Field{{Kind: audience.KindInvalid, Rule: normalize.Email}}},
		"group not kind": {Name: "p", Fields: []normalize.Field{email}, Groups: []normalize.Group{{Kinds: []audience.Kind{audience.Zip}, Incomplete: "g.incomplete"}}},
		"group reason":   {Name: "p", Fields: []normalize.Field{email}, Groups: []normalize.Group{{Kinds: []audience.Kind{audience.Email}}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := normalize.NewProfile(spec)
			require.Error(t, err)
			require.Panics(t, func() { normalize.MustProfile(spec) })
		})
	}
}

// A profile built from hooks alone: a group emitted whole, a kind derived
// from another, and a matchability rule.
func TestProfileFromHooks(t *testing.T) {
	t.Parallel()
	p := normalize.MustProfile(normalize.Spec{
		Name: "test",
		Fields: []normalize.Field{
			{Kind: audience.Phone, Rule: normalize.PhoneE164},
			{Kind: audience.FirstName, Rule: normalize.NameLetters},
			{Kind: audience.FirstInitial, Rule: normalize.InitialLetter, From: audience.FirstName},
			{Kind: audience.City, Rule: normalize.CityLetters},
			{Kind: audience.Zip, Rule: normalize.PostalCodeAsWritten, Clear: true},
		},
		Groups: []normalize.Group{{Kinds: []audience.Kind{audience.City, audience.Zip}, Incomplete: "place.incomplete"}},
		Matchable: func(got normalize.Present) bool {
			return got.Any(audience.Phone) || got.All(audience.City, audience.Zip)
		},
	})
	from, ok := p.From(audience.FirstInitial)
	require.True(t, ok)
	require.Equal(t, audience.FirstName, from)
	_, ok = p.From(audience.Phone)
	require.False(t, ok)
	require.False(t, p.Hashed(audience.Zip))

	var tally normalize.Tally
	m := audience.Member{}
	m.Fields[audience.FirstName] = "Ada"
	m.Fields[audience.City] = "Springfield"
	m.Fields[audience.Zip] = " 62701 "
	ids, ok := p.Member(&m, normalize.Options{}, nil, &tally)
	require.True(t, ok)
	var kinds []audience.Kind
	for _, id := range ids {
		kinds = append(kinds, id.Kind)
	}
	require.Equal(t, []audience.Kind{audience.FirstName, audience.FirstInitial, audience.City, audience.Zip}, kinds)
	require.Equal(t, "62701", ids[3].Value)

	m.Fields[audience.Zip] = ""
	_, ok = p.Member(&m, normalize.Options{}, nil, &tally)
	require.False(t, ok, "without the whole place nothing matches")
	require.Equal(t, int64(1), tally.Rejected["place.incomplete"])
	require.Equal(t, int64(1), tally.Rejected[normalize.ReasonNoIdentifiers])
}
