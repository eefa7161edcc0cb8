package googleads_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors/retry/retrytest"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/sandbox"
)

// TestRetryBudgetEndToEnd runs syncs against the replica with faults: no
// batch reaches Google more often than the policy's attempts, whichever
// layer retries, and the report counts every retry. Waits cost no time.
func TestRetryBudgetEndToEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, faults string
		extra        int           // see retrytest.RequireBounded
		said         string        // what the platform said, kept in the report's error
		asked        time.Duration // a wait Google asks for, to be waited
	}{
		{name: "503 three times", faults: "google.ingest:503*3", extra: 3},
		{name: "RESOURCE_EXHAUSTED with RetryInfo", faults: "google.ingest:429*2,retry-after=7s", extra: 2, asked: 7 * time.Second},
		{name: "permanent 500", faults: "google.ingest:500", extra: -1, said: "Internal error encountered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rm := newRemote(t, sandbox.Options{})
			d, _ := newDest(t, rm, settings()) // five attempts a request
			s := newSyncer(t, d)
			clock := retrytest.NewClock(time.Now())
			s.eng.Retry = clock.Policy(8)
			s.batch = 25
			rm.faults(t, tt.faults)
			rep, err := s.run(contacts(0, 50), engine.Options{})
			dr := rep.Destinations[0]
			retrytest.RequireBounded(t, 8, tt.extra, retrytest.Outcome{Batches: dr.Batches, Requests: len(rm.requestSizes()),
				Retries: dr.Retries, Failed: dr.Applied.Failed, Members: 50, Err: err})
			if tt.asked > 0 {
				require.Contains(t, clock.Slept(), tt.asked, "the RetryInfo delay was waited")
			}
			if tt.extra < 0 {
				require.Contains(t, dr.Errors[0], "retry budget is spent")
				require.Contains(t, dr.Errors[0], tt.said, "the last answer's body was read")
			}
		})
	}
}
