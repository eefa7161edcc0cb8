package connectors_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
)

type settings struct{ Path string }

type source struct{}

func (*source) Read(context.Context, connectors.ReadRequest, connectors.Emitter) error { return nil }
func (*source) Close() error                                                           { return nil }

func TestSourceFunc(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	newSource := connectors.SourceFunc(func(s *settings, _ connectors.Env) (*source, error) {
		if s.Path == "" {
			return nil, boom
		}
		return &source{}, nil
	})

	src, err := newSource(&settings{Path: "x"}, connectors.Env{})
	require.NoError(t, err)
	require.NotNil(t, src)

	src, err = newSource(&settings{}, connectors.Env{})
	require.ErrorIs(t, err, boom)
	require.Nil(t, src, "a failed constructor yields a nil interface, not a typed nil")

	_, err = newSource(struct{}{}, connectors.Env{})
	require.ErrorContains(t, err, "want *connectors_test.settings")
}

// TestDestinationSpecTraits checks that DestinationSpec sets the optional
// facts its traits name, and only those.
func TestDestinationSpecTraits(t *testing.T) {
	t.Parallel()
	build := func(*settings, connectors.Env) (connectors.Destination, error) { return nil, errors.New("not built") }
	tests := []struct {
		name          string
		traits        []connectors.Trait
		consent, tags bool
	}{
		{name: "none"},
		{name: "consent", traits: []connectors.Trait{connectors.ConsentRequired}, consent: true},
		{name: "tags", traits: []connectors.Trait{connectors.TaggedAudiences}, tags: true},
		{name: "both", traits: []connectors.Trait{connectors.TaggedAudiences, connectors.ConsentRequired}, consent: true, tags: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := connectors.DestinationSpec("d", "a destination", "d: {}", build, tt.traits...)
			require.Equal(t, connectors.RoleDestination, spec.Role)
			require.Equal(t, tt.consent, spec.RequiresConsent, "RequiresConsent")
			require.Equal(t, tt.tags, spec.TaggedAudience, "TaggedAudience")
			require.IsType(t, &settings{}, spec.Settings())
			var reg connectors.Registry
			reg.Register(spec) // a declared destination registers
		})
	}
}
