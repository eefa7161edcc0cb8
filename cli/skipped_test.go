package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/syncs"
)

// `runs` lists a tick serve skipped, with status skipped, and `report`
// shows why.
func TestRunsShowsSkippedTick(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: cfg})
	require.NoError(t, err)
	id, err := svc.RecordSkipped(t.Context(), "cart-abandoners", "skipped: the previous run of this sync was still running", "schedule")
	require.NoError(t, err)
	require.NoError(t, svc.Close())

	runs := run(t, "", "runs", "--config", cfg)
	require.Equal(t, ExitOK, runs.code, runs.stderr)
	var line string
	for _, l := range strings.Split(runs.stdout, "\n") {
		if strings.HasPrefix(l, id) {
			line = strings.Join(strings.Fields(l), " ")
		}
	}
	require.Contains(t, line, id+" cart-abandoners skipped ", runs.stdout)
	shown := run(t, "", "report", id, "--config", cfg)
	require.Equal(t, ExitOK, shown.code, shown.stderr)
	require.Contains(t, shown.stdout, "SKIPPED")
	require.Contains(t, shown.stdout, "still running")
}
