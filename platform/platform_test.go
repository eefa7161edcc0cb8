package platform_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/platform"
	"github.com/audiencesync/audiencesync/platform/builtin"
)

func testPlatform(name string) *platform.Platform {
	return &platform.Platform{
		Name: name,
		Profile: normalize.MustProfile(normalize.Spec{Name: name, Fields: []normalize.Field{
			{Kind: audience.Email, Rule: normalize.Email},
			{Kind: audience.Phone, Rule: normalize.PhoneDigits},
		}}),
		Layout: []platform.Column{{Kind: audience.Phone, Name: "tel"}, {Kind: audience.Email, Name: "mail"}},
	}
}

func TestBuiltinRegistry(t *testing.T) {
	t.Parallel()
	r := builtin.Registry()
	require.Equal(t, []string{"google", "meta", "x", "linkedin", "mailchimp"}, r.Names())
	for _, name := range r.Names() {
		p, err := r.Lookup(" " + name + " ")
		require.NoError(t, err)
		require.Equal(t, name, p.Profile.Name())
		if name == "mailchimp" {
			require.Nil(t, p.Layout, "Mailchimp has no upload-file layout")
			continue
		}
		require.ElementsMatch(t, p.Kinds(), p.LayoutKinds(), "%s: one column per kind", name)
	}
	_, err := r.Lookup("tiktok")
	require.ErrorContains(t, err, `unknown platform "tiktok" (use one of: google, meta, x, linkedin, mailchimp)`)
}

func TestKindOrderDecidesTrimming(t *testing.T) {
	t.Parallel()
	r := builtin.Registry()
	for name, want := range map[string][]audience.Kind{
		"google": {audience.Email, audience.Phone, audience.FirstName, audience.LastName, audience.Country, audience.Zip},
		"x":      {audience.Email, audience.Phone, audience.MobileID, audience.Handle, audience.TwitterID, audience.ExternalID},
	} {
		p, err := r.Lookup(name)
		require.NoError(t, err)
		require.Equal(t, want, p.Kinds(), name)
	}
}

func TestRegistryIsAValue(t *testing.T) {
	t.Parallel()
	a := builtin.Registry()
	b := a.Clone()
	b.Register(testPlatform("acme"))
	require.Equal(t, []string{"google", "meta", "x", "linkedin", "mailchimp", "acme"}, b.Names())
	require.Equal(t, []string{"google", "meta", "x", "linkedin", "mailchimp"}, a.Names(), "a clone does not share additions")
	require.Equal(t, []string{"google", "meta", "x", "linkedin", "mailchimp"}, builtin.Registry().Names(), "each call is fresh")
}

func TestRegisterPanics(t *testing.T) {
	t.Parallel()
	badLayout := testPlatform("bad")
	badLayout.Layout = badLayout.Layout[:1]
	for name, tc := range map[string]struct {
		p    *platform.Platform
		want string
	}{
		"empty name":     {&platform.Platform{}, "platform: Register with empty name"},
		"duplicate":      {testPlatform("google"), "platform: Register called twice for google"},
		"no profile":     {&platform.Platform{Name: "acme"}, "platform: acme has no profile of its name"},
		"misnamed":       {&platform.Platform{Name: "acme", Profile: testPlatform("other").Profile}, "platform: acme has no profile of its name"},
		"partial layout": {badLayout, "platform: bad's upload layout does not have one column per kind it takes"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := builtin.Registry()
			require.PanicsWithValue(t, tc.want, func() { r.Register(tc.p) })
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	m := platform.NewMatch(true, audience.FirstName, audience.Zip)
	require.True(t, m.RecordMatching())
	require.True(t, m.Attribute(audience.Zip))
	require.False(t, m.Attribute(audience.Email))
	require.False(t, m.Attribute(audience.Kind(250)), "out of range is no attribute")
	none := platform.NewMatch(false)
	require.False(t, none.RecordMatching())
}

func TestColumn(t *testing.T) {
	t.Parallel()
	p := testPlatform("acme")
	name, ok := p.Column(audience.Email)
	require.True(t, ok)
	require.Equal(t, "mail", name)
	_, ok = p.Column(audience.Handle)
	require.False(t, ok)
	require.Equal(t, []audience.Kind{audience.Phone, audience.Email}, p.LayoutKinds())
}
