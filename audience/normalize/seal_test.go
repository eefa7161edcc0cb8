package normalize_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
)

func TestDigestAndSealSpecs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		f    normalize.Field
		ok   bool
	}{
		{"md5 sealed too", normalize.Field{Kind: audience.Email, Rule: normalize.Email, Digest: normalize.MD5, Seal: normalize.SealToo}, true},
		{"seal only", normalize.Field{Kind: audience.FirstName, Rule: normalize.Text, Seal: normalize.SealOnly}, true},
		{"clear and md5", normalize.Field{Kind: audience.ExternalID, Rule: normalize.ExternalID, Clear: true, Digest: normalize.MD5}, false},
		{"clear and sealed", normalize.Field{Kind: audience.ExternalID, Rule: normalize.ExternalID, Clear: true, Seal: normalize.SealToo}, false},
		{"unknown digest", normalize.Field{Kind: audience.Email, Rule: normalize.Email, Digest: 9}, false},
	} {
		_, err := normalize.NewProfile(normalize.Spec{Name: "p", Fields: []normalize.Field{tc.f}})
		require.Equal(t, tc.ok, err == nil, "%s: %v", tc.name, err)
	}
	p := normalize.MustProfile(normalize.Spec{Name: "p", Fields: []normalize.Field{
		{Kind: audience.Email, Rule: normalize.Email, Digest: normalize.MD5, Seal: normalize.SealToo},
		{Kind: audience.FirstName, Rule: normalize.Text, Seal: normalize.SealOnly},
	}})
	require.True(t, p.Seals())
	_, r := p.Value(audience.FirstName, "Ann", normalize.Options{})
	require.Equal(t, normalize.ReasonKindUnsupported, r, "a sealed-only kind has no identifier")
	v, r := p.Normalize(audience.FirstName, "  Ann Marie ", normalize.Options{})
	require.Empty(t, r)
	require.Equal(t, "Ann Marie", v, "Text keeps the value as written")
	var m audience.Member
	m.Fields[audience.Email] = "a@example.com"
	m.Fields[audience.FirstName] = "   "
	var tally normalize.Tally
	ids, ok := p.Member(&m, normalize.Options{}, nil, &tally)
	require.True(t, ok)
	require.Len(t, ids, 2, "the key and the sealed address; the blank name is rejected")
	require.Equal(t, int64(1), tally.Rejected[normalize.ReasonTextEmpty])
	require.False(t, normalize.MustProfile(normalize.Spec{Name: "q", Fields: []normalize.Field{{Kind: audience.Email, Rule: normalize.Email}}}).Seals())
}
