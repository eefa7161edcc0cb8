package meta_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors/retry/retrytest"
	"github.com/audiencesync/audiencesync/engine"
)

// TestRetryBudgetEndToEnd runs syncs against the replica with faults: no
// batch reaches Meta more often than the policy's attempts, whichever
// layer retries (throttles on HTTP 400 included), and the report counts
// every retry. Waits cost no time.
func TestRetryBudgetEndToEnd(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, faults string
		extra        int    // see retrytest.RequireBounded
		said         string // what the platform said, kept in the report's error
	}{
		{name: "API throttle 613 twice", faults: "meta.users:613*2", extra: 2},
		{name: "ad account throttle 80003 with usage header", faults: "meta.users:80003*3", extra: 3},
		{name: "permanent 500", faults: "meta.users:500", extra: -1, said: "An unknown error occurred"},
		{name: "permanent throttle", faults: "meta.users:613", extra: -1, said: "(#613) Calls to this api have exceeded the rate limit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSync(t, tt.faults) // five attempts a request
			s.eng.Retry = retrytest.NewClock(time.Now()).Policy(8)
			s.batch = 25
			rep, err := s.run(members(0, 50), engine.Options{})
			d := rep.Destinations[0]
			retrytest.RequireBounded(t, 8, tt.extra, retrytest.Outcome{Batches: d.Batches, Requests: len(s.calls("users")),
				Retries: d.Retries, Failed: d.Applied.Failed, Members: 50, Err: err})
			if tt.extra < 0 {
				require.Contains(t, d.Errors[0], tt.said, "the last answer's body was read")
			}
		})
	}
}
