package hubspot_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/hubspot"
	"github.com/audiencesync/audiencesync/connectors/hubspot/replicacreds"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	replica "github.com/audiencesync/audiencesync/sandbox/hubspot"
)

// TestReadReleasesConnections: a read closes the connections its client
// kept alive when it ends, below the token and pacing wrappers.
func TestReadReleasesConnections(t *testing.T) {
	t.Parallel()
	ts := connectortest.NewConnServer(t, replica.New(replica.Options{}))
	src, err := hubspot.New(&hubspot.Settings{Settings: platformconn.Settings{Endpoint: ts.URL},
		AccessToken: auth.NewSecret(replicacreds.AccessToken)}, connectors.Env{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, src.Close()) })
	rec, err := read(t, src, request("Newsletter subscribers"))
	require.NoError(t, err)
	require.NotEmpty(t, rec.members)
	ts.RequireClosed(t)
}
