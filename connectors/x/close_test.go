package x

import (
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/sandbox"
)

// TestCloseReleasesConnections: Close closes the connections the client
// kept alive, below the rate gate and the signer that wrap the wire.
func TestCloseReleasesConnections(t *testing.T) {
	t.Parallel()
	connectortest.CloseReleasesConnections(t, sandbox.New(sandbox.Options{}), func(endpoint string) (connectors.Destination, error) {
		return newDestination(replicaSettings(endpoint), connectors.Env{Now: time.Now}, testLimits())
	})
}
