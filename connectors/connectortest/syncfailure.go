package connectortest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
)

// SyncRun is one sync of a source into a destination, set up for a case
// of ReadFailures on a source and state of its own.
type SyncRun struct {
	// Run runs the sync once (the service layer's Run), returning its
	// report, which a failed run has too.
	Run func(t *testing.T) (*report.Report, error)
	// Leave, when set, has members leave the source after the first run,
	// so a complete read would remove them (ReadFailures.Left of them).
	Leave func(t *testing.T)
	// Break makes the next run's read fail part-way; Mend makes the
	// source well again (and lets any limit it hit reset).
	Break, Mend func(t *testing.T)
}

// ReadFailure is one way a source's read fails part-way through a run.
type ReadFailure struct {
	Name string
	// Setup builds the case's sync over a fresh source and state.
	Setup func(t *testing.T) SyncRun
	// Want is what the failed run's message (its error and the report's)
	// must contain: what happened and what to do.
	Want string
}

// ReadFailures is the failure table every source's sync tests run: a
// first run that succeeds, a second whose read fails part-way (a network
// reset, 5xx past the retries, a revoked token, a daily limit, an
// audience deleted between runs…) and a third with the source well.
type ReadFailures struct {
	// Added is how many members the first run adds.
	Added int64
	// Left is how many members SyncRun.Leave takes out of the source: the
	// third run removes them. Without Leave the third run changes
	// nothing.
	Left int64
	// Advice, when set, is a pattern every failed run's message matches
	// besides its case's Want (that nothing is removed, say).
	Advice string
	Cases  []ReadFailure
}

// RunReadFailures runs each case in a parallel subtest. The failed run
// must end failed (not partial, not succeeded), say its case's Want, plan
// and apply no removal and quote no contact data (no example address);
// the run after it must succeed and remove exactly the members who left.
func RunReadFailures(t *testing.T, f ReadFailures) {
	t.Helper()
	var advice *regexp.Regexp
	if f.Advice != "" {
		advice = regexp.MustCompile(f.Advice)
	}
	for _, tc := range f.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			s := tc.Setup(t)
			rep, err := s.Run(t)
			require.NoError(t, err)
			require.Equal(t, report.StatusSucceeded, rep.Status)
			require.Equal(t, f.Added, rep.Destinations[0].Applied.Added)

			if s.Leave != nil {
				s.Leave(t)
			}
			s.Break(t)
			rep, err = s.Run(t)
			require.NotNil(t, rep, "a failed run still has a report")
			msg := rep.Error
			if err != nil {
				msg += " " + err.Error()
			}
			require.Equal(t, report.StatusFailed, rep.Status, msg)
			require.Contains(t, msg, tc.Want)
			if advice != nil {
				require.Regexp(t, advice, msg)
			}
			require.Zero(t, rep.Destinations[0].Planned.Remove, "a failed read plans no removal")
			require.Zero(t, rep.Destinations[0].Applied.Removed)
			require.False(t, strings.Contains(msg, "@example."), "no contact data in errors: %s", msg)

			s.Mend(t)
			rep, err = s.Run(t)
			require.NoError(t, err)
			require.Equal(t, report.StatusSucceeded, rep.Status)
			if s.Leave == nil {
				require.Zero(t, rep.Destinations[0].Applied.Added+rep.Destinations[0].Applied.Removed, "nothing changed in the source")
			} else {
				require.Equal(t, f.Left, rep.Destinations[0].Applied.Removed, "the complete read removes the members who left")
			}
		})
	}
}

// RunEmptiedSource runs a sync once, empties the audience in the source
// (empty) and runs it again: that read is complete and yields nobody, and
// the removal guard stops the run before anything is removed.
func RunEmptiedSource(t *testing.T, run func(t *testing.T) (*report.Report, error), added int64, empty func(t *testing.T)) {
	t.Helper()
	rep, err := run(t)
	require.NoError(t, err)
	require.Equal(t, added, rep.Destinations[0].Applied.Added)
	empty(t)
	rep, err = run(t)
	require.Error(t, err)
	require.Equal(t, report.StatusAborted, rep.Status)
	require.Zero(t, rep.Source.Read, "the emptied audience reads no one")
	require.Zero(t, rep.Destinations[0].Applied.Removed)
}
