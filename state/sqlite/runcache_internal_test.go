package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/state"
)

// Finished runs a listing or Run read are kept (a report only once Run
// read it); runs in progress never are; FinishRun forgets a run.
func TestRunCacheKeepsFinishedRuns(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "state.db"))
	require.NoError(t, err)
	defer s.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sum := []state.Summary{{Destination: "google", Status: "succeeded", Members: 3, Started: at, Finished: at}}
	require.NoError(t, s.BeginRun(t.Context(), state.Run{ID: "done", Sync: "a", Status: "running", Started: at}))
	require.NoError(t, s.FinishRun(t.Context(), "done", "succeeded", at.Add(time.Minute), []byte(`{}`), sum))
	require.NoError(t, s.BeginRun(t.Context(), state.Run{ID: "live", Sync: "a", Status: "running", Started: at.Add(time.Hour)}))

	runs, err := s.Runs(t.Context(), state.RunFilter{})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	got, ok := s.runs.summaries("done")
	require.True(t, ok, "a listed finished run is kept")
	require.Equal(t, sum, got)
	_, ok = s.runs.summaries("live")
	require.False(t, ok, "a run in progress is not")
	_, ok = s.runs.run("done")
	require.False(t, ok, "a listing read no report")

	_, err = s.Run(t.Context(), "done")
	require.NoError(t, err)
	r, ok := s.runs.run("done")
	require.True(t, ok)
	require.Equal(t, `{}`, string(r.Report))

	require.NoError(t, s.FinishRun(t.Context(), "done", "partial", at.Add(time.Minute), []byte(`{}`), nil))
	_, ok = s.runs.summaries("done")
	require.False(t, ok, "FinishRun forgets the run")
}

// The cache holds at most runCacheSize runs, dropping the oldest.
func TestRunCacheBound(t *testing.T) {
	t.Parallel()
	c := newRunCache()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range runCacheSize + 10 {
		c.keep(state.Run{ID: fmt.Sprint(i), Finished: at}, false)
	}
	require.Len(t, c.runs, runCacheSize)
	_, ok := c.summaries("0")
	require.False(t, ok, "the oldest left")
	_, ok = c.summaries(fmt.Sprint(runCacheSize + 9))
	require.True(t, ok, "the newest stays")
	c.forget("100")
	require.Len(t, c.runs, runCacheSize-1)
	require.Len(t, c.order, runCacheSize-1)
}
