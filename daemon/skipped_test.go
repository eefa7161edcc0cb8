package daemon_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// runsWith lists the recorded runs of sync with status st, newest first.
func runsWith(t *testing.T, svc *syncs.Service, sync string, st report.Status) []syncs.RunRecord {
	t.Helper()
	runs, err := svc.ListRuns(t.Context(), state.RunFilter{Sync: sync, Statuses: []string{string(st)}})
	require.NoError(t, err)
	return runs
}

// A tick while the sync is still running becomes a skipped run in the
// run log, at the tick's time, with a report that says why; it is not
// interrupted, sends no alert, is counted in /metrics as skipped and
// leaves the last success alone. A run asked for through the API while
// the sync runs is refused and leaves no record.
func TestSkippedTickInRunLog(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, 0)
	b := setup(t, "serve: {max_jitter: 0s}\nalerts: {webhook: \""+rc.srv.URL+"\"}\n", "buyers", "* * * * *")
	b.gate.holdRuns()
	addr, _ := b.start(t, 2)
	b.advanceTo(nextMinute)
	first := recv(t, b.gate.started, "first run")
	b.advanceTo(nextMinute.Add(time.Minute))
	require.Eventually(t, func() bool { return b.logs.FilterMessage("skipped tick recorded").Len() == 1 }, 10*time.Second, 10*time.Millisecond)
	_, err := b.d.Trigger(t.Context(), "buyers", syncs.RunOptions{})
	require.ErrorIs(t, err, syncs.ErrBusy)

	svc := b.d.Service()
	skipped := runsWith(t, svc, "buyers", report.StatusSkipped)
	require.Len(t, skipped, 1, "the scheduled tick is recorded, the refused API call is not")
	sk := skipped[0]
	require.Equal(t, nextMinute.Add(time.Minute), sk.Started)
	require.Equal(t, sk.Started, sk.Finished)
	require.False(t, sk.Interrupted)
	require.Empty(t, sk.Summaries)
	require.NotEqual(t, first.Run.ID, sk.ID)
	rep, err := svc.Report(t.Context(), sk.ID)
	require.NoError(t, err)
	require.Equal(t, report.StatusSkipped, rep.Status)
	require.Equal(t, sk.ID, rep.RunID)
	require.Contains(t, rep.Error, "still running")
	require.Empty(t, rep.Destinations)
	require.Equal(t, "schedule", sk.StartedBy, "the skip records the trigger it skipped")
	require.Equal(t, "schedule", rep.StartedBy)

	b.gate.release()
	fin := recv(t, b.gate.finished, "first run's end")
	require.Equal(t, report.StatusSucceeded, fin.Status)
	b.waitIdle(t, 1)

	// Newest first: the skip (started later) above the run it yielded to,
	// which is recorded as the run it was.
	all, err := svc.Runs(t.Context(), "buyers", 0)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, []string{sk.ID, first.Run.ID}, []string{all[0].ID, all[1].ID})
	require.Equal(t, string(report.StatusSucceeded), all[1].Status)
	require.Equal(t, "schedule", all[1].StartedBy, "a scheduled tick's run")

	_, body := get(t, "http://"+addr+"/metrics")
	require.Contains(t, body, `audiencesync_runs_total{status="skipped",sync="buyers"} 1`)
	require.Contains(t, body, `audiencesync_runs_total{status="succeeded",sync="buyers"} 1`)
	require.Contains(t, body, `audiencesync_last_success_timestamp_seconds{sync="buyers"}`)
	time.Sleep(100 * time.Millisecond)
	require.Zero(t, rc.calls.Load(), "a skipped tick is no failure: no alert")
}

// A tick while another process holds the sync's lock is recorded as
// skipped too, its report naming the holder.
func TestSkippedTickOtherProcess(t *testing.T) {
	t.Parallel()
	b := setup(t, "serve: {max_jitter: 0s}\n", "buyers", "* * * * *")
	b.start(t, 2)
	st := storeOf(t, b.d.Service())
	held, err := st.AcquireLock(t.Context(), state.Lock{Name: "sync:buyers", Owner: "elsewhere-1", PID: 1, Host: "other-host",
		Expires: b.clock.Now().Add(time.Hour)}, b.clock.Now())
	require.NoError(t, err)
	b.advanceTo(nextMinute)
	require.Eventually(t, func() bool { return b.logs.FilterMessage("skipped tick recorded").Len() == 1 }, 10*time.Second, 10*time.Millisecond)
	skipped := runsWith(t, b.d.Service(), "buyers", report.StatusSkipped)
	require.Len(t, skipped, 1)
	var rep report.Report
	rec, err := b.d.Service().RunRecord(t.Context(), skipped[0].ID)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(rec.Report, &rep))
	require.True(t, strings.Contains(rep.Error, "other-host") || strings.Contains(rep.Error, "another"), "report error: %s", rep.Error)
	require.NoError(t, st.ReleaseLock(t.Context(), held.Name, held.Owner))
}

// storeOf returns the service's state store.
func storeOf(t *testing.T, svc *syncs.Service) state.Store {
	t.Helper()
	tokens, err := svc.Tokens(t.Context())
	require.NoError(t, err)
	return tokens.(state.Store)
}

// A run a crash left running, then a skipped tick recorded after it: at
// start the daemon still sees the crashed run as its sync's last run,
// shown as interrupted, and catches up the tick it missed; the skip does
// not hide it.
func TestSkippedTickKeepsInterruptedCatchUp(t *testing.T) {
	t.Parallel()
	b := setup(t, "serve: {max_jitter: 0s}\n", "buyers", "* * * * *")
	svc, err := b.opts.Open(t.Context())
	require.NoError(t, err)
	st := storeOf(t, svc)
	// Started at 09:58:35, 90 s before t0: the 09:59 and 10:00 ticks
	// came after it; the skip is recorded at t0, after both.
	require.NoError(t, st.BeginRun(t.Context(), state.Run{ID: "r-crashed", Sync: "buyers", Status: string(report.StatusRunning),
		Started: t0.Add(-90 * time.Second), Owner: "dead-1"}))
	_, err = svc.RecordSkipped(t.Context(), "buyers", "skipped: still running", "schedule")
	require.NoError(t, err)
	runs, err := svc.Runs(t.Context(), "buyers", 0)
	require.NoError(t, err)
	require.Len(t, runs, 2)
	require.Equal(t, string(report.StatusSkipped), runs[0].Status, "the skip is the newest row")
	require.True(t, runs[1].Interrupted, "the crashed run shows as interrupted")
	require.False(t, runs[0].Interrupted)
	require.NoError(t, svc.Close())

	b.start(t, 2)
	st0 := recv(t, b.gate.started, "catch-up run")
	require.Equal(t, t0, st0.StartedAt, "caught up at once, although the newest row is a skip at t0")
	recv(t, b.gate.finished, "catch-up run's end")
	rec, err := b.d.Service().RunRecord(t.Context(), st0.Run.ID)
	require.NoError(t, err)
	require.Equal(t, "catch-up", rec.StartedBy)
	logs := b.logs.FilterMessageSnippet("catch-up").All()
	require.Len(t, logs, 1)
	require.Equal(t, true, logs[0].ContextMap()["last_run_interrupted"])
}
