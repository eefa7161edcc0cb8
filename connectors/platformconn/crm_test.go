package platformconn_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
)

func TestNewCRM(t *testing.T) {
	t.Parallel()
	defaults := []string{"HasOptedOutOfEmail"}
	tests := []struct {
		name   string
		optOut []string
		want   []string
	}{
		{"not configured takes the defaults", nil, defaults},
		{"configured", []string{"opt_out", "unsubscribed"}, []string{"opt_out", "unsubscribed"}},
		{"empty turns them off", []string{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := platformconn.NewCRM(platformconn.Settings{}, limits, connectors.Env{}, nil, tt.optOut, defaults)
			require.NoError(t, err)
			require.Equal(t, tt.want, c.OptOut)
			require.Equal(t, 3, c.Concurrency, "the connection is set up as New does")
			require.NotNil(t, c.Log)
			given := tt.optOut
			if given == nil {
				given = defaults
			}
			if len(c.OptOut) > 0 {
				c.OptOut[0] = "changed"
				require.NotEqual(t, "changed", given[0], "OptOut is a copy of what it was given")
			}
		})
	}
	_, err := platformconn.NewCRM(platformconn.Settings{Concurrency: 99}, limits, connectors.Env{}, nil, nil, defaults)
	require.Error(t, err, "settings are validated as New validates them")
}
