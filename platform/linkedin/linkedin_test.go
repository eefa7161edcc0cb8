package linkedin_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors/file"
	"github.com/audiencesync/audiencesync/connectors/uploadfile"
	"github.com/audiencesync/audiencesync/platform/linkedin"
)

// LinkedIn takes a hashed e-mail address and an Android advertising id
// in clear, nothing else.
func TestProfile(t *testing.T) {
	t.Parallel()
	p := linkedin.Platform()
	require.Equal(t, []audience.Kind{audience.Email, audience.MobileID}, p.Kinds())
	sum := sha256.Sum256([]byte("ada@example.com"))
	for _, tc := range []struct {
		name   string
		kind   audience.Kind
		in     string
		want   string
		reason bool
	}{
		{name: "e-mail hashed after normalising", kind: audience.Email, in: " Ada@Example.COM ", want: hex.EncodeToString(sum[:])},
		{name: "advertising id in clear, lower case", kind: audience.MobileID, in: "6D92078A-8246-4BA4-AE5B-76104861E7DC", want: "6d92078a-8246-4ba4-ae5b-76104861e7dc"},
		{name: "not an advertising id", kind: audience.MobileID, in: "device-1", reason: true},
		{name: "not an address", kind: audience.Email, in: "ada", reason: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, reason := p.Profile.Value(tc.kind, tc.in, normalize.Options{})
			if tc.reason {
				require.NotEmpty(t, reason)
				return
			}
			require.Empty(t, reason)
			require.Equal(t, tc.want, id.Value)
		})
	}
	require.False(t, p.Match.Attribute(audience.Email))
	require.False(t, p.Match.Attribute(audience.MobileID), "each identifier matches alone")
}

// The contact-list layout is written only where a config asks for it.
func TestUploadLayout(t *testing.T) {
	t.Parallel()
	require.NotContains(t, file.DefaultFormats, linkedin.Name, "configs without formats keep their three files")
	var buf bytes.Buffer
	w, err := uploadfile.NewWriter(&buf, linkedin.Platform(), nil)
	require.NoError(t, err)
	require.NoError(t, w.Write([]audience.Identifier{
		{Kind: audience.MobileID, Value: "6d92078a-8246-4ba4-ae5b-76104861e7dc"},
		{Kind: audience.Email, Value: "0a1b", Hashed: true},
	}))
	require.NoError(t, w.Flush())
	require.Equal(t, "email,googleaid\n0a1b,6d92078a-8246-4ba4-ae5b-76104861e7dc\n", buf.String())
}
