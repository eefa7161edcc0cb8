package x

import (
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
	"github.com/audiencesync/audiencesync/sandbox"
)

// TestCloseReleasesConnections: Close closes the connections the client
// kept alive, below the rate gate and the signer that wrap the wire.
func TestCloseReleasesConnections(t *testing.T) {
	t.Parallel()
	connectortest.CloseReleasesConnections(t, sandbox.New(sandbox.Options{}), func(endpoint string) (connectors.Destination, error) {
		return newDestination(&Settings{
			AccountID: xplatform.ReplicaAccount,
			XCredentials: auth.XCredentials{
				ConsumerKey:    auth.NewSecret(xplatform.ReplicaConsumerKey),
				ConsumerSecret: auth.NewSecret(xplatform.ReplicaConsumerSecret),
				AccessToken:    auth.NewSecret(xplatform.ReplicaAccessToken),
				AccessSecret:   auth.NewSecret(xplatform.ReplicaAccessSecret),
			},
			Settings: platformconn.Settings{Endpoint: endpoint},
		}, connectors.Env{Now: time.Now}, testLimits())
	})
}
