package audience_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
)

func sealed(k audience.Kind, v string) audience.Identifier {
	return audience.Identifier{Kind: k, Value: string(audience.AppendSealed(nil, k, []byte(v))), Sealed: true}
}

func TestSealedValues(t *testing.T) {
	t.Parallel()
	const addr = "zoe.weber@example.com"
	a, b := sealed(audience.Email, addr), sealed(audience.Email, addr)
	require.NotEqual(t, a.Value, b.Value, "each sealing has its own nonce")
	require.NotContains(t, a.Value, addr)
	for _, id := range []audience.Identifier{a, b} {
		got, err := id.Open()
		require.NoError(t, err)
		require.Equal(t, addr, got)
	}
	hash := audience.Identifier{Kind: audience.Email, Value: strings.Repeat("ab", 16), Hashed: true}
	other := sealed(audience.Email, "someone.else@example.com")
	require.Equal(t, audience.FingerprintOf([]audience.Identifier{hash, a}, audience.Consent{}),
		audience.FingerprintOf([]audience.Identifier{hash, b}, audience.Consent{}), "fingerprints take the digest, not the sealing")
	require.NotEqual(t, audience.FingerprintOf([]audience.Identifier{hash, a}, audience.Consent{}),
		audience.FingerprintOf([]audience.Identifier{hash, other}, audience.Consent{}), "a changed value is re-sent")
	require.NotEqual(t, audience.FingerprintOf([]audience.Identifier{hash, a}, audience.Consent{}),
		audience.FingerprintOf([]audience.Identifier{hash, sealed(audience.FirstName, addr)}, audience.Consent{}), "the kind counts")

	// Packed (what the plan's spill file carries): sealed, never clear;
	// state's form drops it.
	packed := audience.EncodeIdentifiers(nil, []audience.Identifier{hash, a})
	require.NotContains(t, string(packed), addr)
	require.True(t, audience.HasSealed(packed))
	back, err := audience.DecodeIdentifiers(packed)
	require.NoError(t, err)
	require.Equal(t, []audience.Identifier{hash, a}, back)
	stripped := audience.StripSealed(packed)
	require.False(t, audience.HasSealed(stripped))
	back, err = audience.DecodeIdentifiers(stripped)
	require.NoError(t, err)
	require.Equal(t, []audience.Identifier{hash}, back)
	plain := audience.EncodeIdentifiers(nil, []audience.Identifier{hash})
	require.Equal(t, &plain[0], &audience.StripSealed(plain)[0], "nothing sealed: the same bytes")

	// Tampered, truncated or unsealed values do not open.
	bad := a
	bad.Value = a.Value[:len(a.Value)-1] + "x"
	_, err = bad.Open()
	require.Error(t, err)
	bad.Value = a.Value[:10]
	_, err = bad.Open()
	require.Error(t, err)
	_, err = hash.Open()
	require.Error(t, err)
	wrongKind := a
	wrongKind.Kind = audience.FirstName
	_, err = wrongKind.Open()
	require.Error(t, err, "a value opens only as the kind it was sealed as")
}
