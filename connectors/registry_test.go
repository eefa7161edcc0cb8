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
