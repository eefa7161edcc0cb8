package builtin_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/builtin"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := builtin.Registry()
	require.Equal(t, []string{"csv", "file", "google_ads", "hubspot", "linkedin", "mailchimp", "meta", "salesforce", "sql", "x"}, r.Types())
	for _, spec := range r.Specs() {
		t.Run(spec.Type, func(t *testing.T) {
			t.Parallel()
			connectortest.Spec(t, spec)
			got, err := r.Lookup(spec.Type)
			require.NoError(t, err)
			require.Equal(t, spec.Type, got.Type)
		})
	}
}

func TestRegistryIsFreshEachCall(t *testing.T) {
	t.Parallel()
	a := builtin.Registry()
	a.Register(connectors.Spec{
		Type:      "test_only",
		Role:      connectors.RoleSource,
		Settings:  func() any { return &struct{}{} },
		NewSource: func(any, connectors.Env) (connectors.Source, error) { return nil, nil },
	})
	require.NotContains(t, builtin.Registry().Types(), "test_only")
}

func TestDuplicateRegistrationPanics(t *testing.T) {
	t.Parallel()
	for _, spec := range builtin.Registry().Specs() {
		t.Run(spec.Type, func(t *testing.T) {
			t.Parallel()
			r := builtin.Registry()
			require.PanicsWithValue(t, "connectors: Register called twice for type "+spec.Type, func() { r.Register(spec) })
		})
	}
}
