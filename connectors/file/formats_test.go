package file_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/file"
	"github.com/audiencesync/audiencesync/platform"
	"github.com/audiencesync/audiencesync/platform/builtin"
)

// withAcme is the built-in platforms and one more with an upload layout.
func withAcme() *platform.Registry {
	r := builtin.Registry()
	r.Register(&platform.Platform{
		Name: "acme",
		Profile: normalize.MustProfile(normalize.Spec{Name: "acme", Fields: []normalize.Field{
			{Kind: audience.Email, Rule: normalize.Email},
		}}),
		Layout: []platform.Column{{Kind: audience.Email, Name: "email_sha256"}},
	})
	return r
}

// formatsOf builds a file destination from spec with formats.
func formatsOf(t *testing.T, spec connectors.Spec, formats ...string) ([]string, error) {
	t.Helper()
	s := spec.Settings().(*file.Settings)
	s.Dir, s.Formats = t.TempDir(), formats
	if err := s.Validate(); err != nil {
		return nil, err
	}
	d, err := spec.NewDestination(s, connectors.Env{})
	if err != nil {
		return nil, err
	}
	return d.(*file.Destination).Profiles(), nil
}

func TestFormatsComeFromThePlatforms(t *testing.T) {
	t.Parallel()
	got, err := formatsOf(t, file.SpecFor(withAcme()))
	require.NoError(t, err)
	require.Equal(t, []string{"google", "meta", "x"}, got, "a new platform adds no files to a config without formats")

	got, err = formatsOf(t, file.SpecFor(withAcme()), "acme", "google")
	require.NoError(t, err)
	require.Equal(t, []string{"acme", "google"}, got)

	_, err = formatsOf(t, file.Spec(), "acme")
	require.ErrorContains(t, err, `file: unknown format "acme": use google, meta, x`)

	noLayout := builtin.Registry()
	noLayout.Register(&platform.Platform{Name: "nolayout", Profile: normalize.MustProfile(normalize.Spec{
		Name: "nolayout", Fields: []normalize.Field{{Kind: audience.Email, Rule: normalize.Email}},
	})})
	_, err = formatsOf(t, file.SpecFor(noLayout), "nolayout")
	require.ErrorContains(t, err, `unknown format "nolayout"`, "only platforms with an upload layout are formats")
}
