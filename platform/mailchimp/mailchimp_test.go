package mailchimp_test

import (
	"crypto/md5" //nolint:gosec // Mailchimp's subscriber hash
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/platform/mailchimp"
)

func md5hex(s string) string {
	sum := md5.Sum([]byte(s)) //nolint:gosec // Mailchimp's id
	return hex.EncodeToString(sum[:])
}

// The subscriber hash is the MD5 of the lower-cased address: a client that
// hashes the address as written keys another member.
func TestSubscriberHashLowerCases(t *testing.T) {
	t.Parallel()
	prof := mailchimp.Platform().Profile
	for _, raw := range []string{"Zoe.Weber@Example.COM", "  zoe.weber@example.com ", "ZOE.WEBER@EXAMPLE.COM"} {
		id, reason := prof.Value(audience.Email, raw, normalize.Options{})
		require.Empty(t, reason)
		require.True(t, id.Hashed)
		require.Equal(t, md5hex("zoe.weber@example.com"), id.Value, raw)
		require.NotEqual(t, md5hex("Zoe.Weber@Example.COM"), id.Value)
	}
	_, reason := prof.Value(audience.Email, md5hex("x")+md5hex("y"), normalize.Options{})
	require.Equal(t, normalize.ReasonNeedsClear, reason, "a SHA-256 cannot be mailed")
}

func TestMemberCarriesSealedAddressAndMergeFields(t *testing.T) {
	t.Parallel()
	prof := mailchimp.Platform().Profile
	var m audience.Member
	m.Fields[audience.Email] = " O.Neil@Example.com"
	m.Fields[audience.FirstName] = " O'Neil "
	m.Fields[audience.LastName] = "Zimmer"
	m.Fields[audience.Phone] = "(202) 555-0139"
	var tally normalize.Tally
	ids, ok := prof.Member(&m, normalize.Options{DefaultRegion: "US"}, nil, &tally)
	require.True(t, ok)
	require.Empty(t, tally.Rejected)
	got := map[audience.Kind][]string{}
	for _, id := range ids {
		if id.Sealed {
			v, err := id.Open()
			require.NoError(t, err)
			got[id.Kind] = append(got[id.Kind], "sealed:"+v)
			continue
		}
		got[id.Kind] = append(got[id.Kind], id.Value)
	}
	require.Equal(t, map[audience.Kind][]string{
		audience.Email:     {md5hex("o.neil@example.com"), "sealed:o.neil@example.com"},
		audience.FirstName: {"sealed:O'Neil"},
		audience.LastName:  {"sealed:Zimmer"},
		audience.Phone:     {"sealed:+12025550139"},
	}, got, "the address keyed and sealed, merge fields sealed as written")
	require.Equal(t, audience.KeyFromIdentifier(ids[0]), audience.KeyFromIdentifier(audience.Identifier{Kind: audience.Email, Value: md5hex("o.neil@example.com"), Hashed: true}),
		"a keyless member is keyed by its subscriber hash")

	// A name alone is no list member.
	var nameOnly audience.Member
	nameOnly.Fields[audience.FirstName] = "Ann"
	_, ok = prof.Member(&nameOnly, normalize.Options{}, nil, &tally)
	require.False(t, ok)
	require.Equal(t, int64(1), tally.Rejected[normalize.ReasonNoIdentifiers])
}

func TestNoUploadLayout(t *testing.T) {
	t.Parallel()
	require.Nil(t, mailchimp.Platform().Layout, "a Mailchimp import is a CSV of clear addresses, which audiencesync does not write")
	sealed, only := mailchimp.Platform().Profile.Sealed(audience.Email)
	require.True(t, sealed)
	require.False(t, only)
}
