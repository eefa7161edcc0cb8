package meta_test

import (
	"testing"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/meta"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
	"github.com/audiencesync/audiencesync/sandbox"
)

// TestCloseReleasesConnections: Close closes the connections the client
// kept alive, below the usage governor that wraps the wire.
func TestCloseReleasesConnections(t *testing.T) {
	t.Parallel()
	connectortest.CloseReleasesConnections(t, sandbox.New(sandbox.Options{}), func(endpoint string) (connectors.Destination, error) {
		return meta.New(&meta.Settings{
			AdAccount:   adAccount,
			AppID:       metaplatform.ReplicaAppID,
			AppSecret:   auth.NewSecret(metaplatform.ReplicaAppSecret),
			AccessToken: auth.NewSecret(metaplatform.ReplicaToken),
			Settings:    platformconn.Settings{Endpoint: endpoint},
		}, connectors.Env{})
	})
}
