package uploadfile_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/uploadfile"
	"github.com/audiencesync/audiencesync/platform"
	"github.com/audiencesync/audiencesync/platform/builtin"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// lookup returns a built-in platform, whose layout the files follow.
func lookup(t *testing.T, name string) *platform.Platform {
	t.Helper()
	p, err := builtin.Registry().Lookup(name)
	require.NoError(t, err)
	return p
}

// hash is a synthetic hashed identifier: the SHA-256 of a made-up value.
func hash(k audience.Kind, v string) audience.Identifier {
	sum := sha256.Sum256([]byte(v))
	return audience.Identifier{Kind: k, Value: hex.EncodeToString(sum[:]), Hashed: true}
}

func plain(k audience.Kind, v string) audience.Identifier {
	return audience.Identifier{Kind: k, Value: v}
}

// members returns synthetic members covering every kind, some with gaps.
func members() [][]audience.Identifier {
	return [][]audience.Identifier{
		{
			hash(audience.Email, "ada@example.com"), hash(audience.Phone, "+15555550100"),
			hash(audience.FirstName, "ada"), hash(audience.LastName, "example"),
			hash(audience.FirstInitial, "a"), hash(audience.City, "springfield"),
			hash(audience.Region, "il"), plain(audience.Zip, "62701"), plain(audience.Country, "US"),
			hash(audience.Gender, "f"), hash(audience.BirthYear, "1990"),
			hash(audience.BirthMonth, "01"), hash(audience.BirthDay, "02"),
			plain(audience.MobileID, "6d92078a-8246-4ba4-ae5b-76104861e7dc"),
			plain(audience.ExternalID, "crm-0001"),
			hash(audience.Handle, "ada_example"), hash(audience.TwitterID, "1000000001"),
		},
		{hash(audience.Phone, "+15555550101")},
		{hash(audience.Email, "bob@example.com"), hash(audience.Email, "bob.second@example.com")},
	}
}

// only keeps the identifiers of kinds.
func only(ids []audience.Identifier, kinds []audience.Kind) []audience.Identifier {
	var out []audience.Identifier
	for _, id := range ids {
		for _, k := range kinds {
			if id.Kind == k {
				out = append(out, id)
			}
		}
	}
	return out
}

func TestWriterGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile string
		kinds   []audience.Kind
	}{
		{"google_all", "google", nil},
		{"meta_all", "meta", nil},
		{"x_all", "x", nil},
		{"google_email_zip", "google", []audience.Kind{audience.Zip, audience.Email}},
		{"meta_email_phone_madid", "meta", []audience.Kind{audience.MobileID, audience.Phone, audience.Email}},
		{"x_email", "x", []audience.Kind{audience.Email}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kinds := tt.kinds
			if kinds == nil {
				kinds = lookup(t, tt.profile).LayoutKinds()
			}
			var buf bytes.Buffer
			w, err := uploadfile.NewWriter(&buf, lookup(t, tt.profile), tt.kinds)
			require.NoError(t, err)
			for _, m := range members() {
				require.NoError(t, w.Write(only(m, kinds)))
			}
			require.NoError(t, w.Flush())
			connectortest.Golden(t, filepath.Join("testdata", tt.name+".csv"), buf.Bytes(), *update)
		})
	}
}

func TestKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile string
		want    []audience.Kind
	}{
		{"google", []audience.Kind{audience.Email, audience.Phone, audience.FirstName, audience.LastName, audience.Country, audience.Zip}},
		{"x", []audience.Kind{audience.Email, audience.Phone, audience.Handle, audience.TwitterID, audience.MobileID, audience.ExternalID}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, lookup(t, tt.profile).LayoutKinds())
		})
	}
	require.Len(t, lookup(t, "meta").LayoutKinds(), 15)
}

func TestWriterErrors(t *testing.T) {
	t.Parallel()
	_, err := uploadfile.NewWriter(&bytes.Buffer{}, &platform.Platform{Name: "linkedin"}, nil)
	require.ErrorIs(t, err, uploadfile.ErrNoLayout)
	require.ErrorContains(t, err, "linkedin upload file")

	_, err = uploadfile.NewWriter(&bytes.Buffer{}, lookup(t, "google"), []audience.Kind{audience.Handle})
	require.ErrorContains(t, err, "google upload files have no column for handle")

	w, err := uploadfile.NewWriter(&bytes.Buffer{}, lookup(t, "meta"), []audience.Kind{audience.Email})
	require.NoError(t, err)
	require.ErrorContains(t, w.Write([]audience.Identifier{hash(audience.Phone, "+15555550102")}),
		"meta upload file has no column for phone")
	require.Error(t, w.Write([]audience.Identifier{{Kind: audience.Kind(200), Value: "x"}}))
}

func TestWriterEmptyFileHasHeader(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w, err := uploadfile.NewWriter(&buf, lookup(t, "google"), nil)
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	require.Equal(t, "Email,Phone,First Name,Last Name,Country,Zip\n", buf.String())
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestWriterFlushReportsWriteError(t *testing.T) {
	t.Parallel()
	w, err := uploadfile.NewWriter(failingWriter{}, lookup(t, "x"), nil)
	require.NoError(t, err)
	require.NoError(t, w.Write([]audience.Identifier{hash(audience.Email, "carol@example.com")}))
	require.ErrorIs(t, w.Flush(), os.ErrClosed)
}
