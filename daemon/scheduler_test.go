package daemon_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
)

// nextMinute is the first whole minute after t0.
var nextMinute = t0.Truncate(time.Minute).Add(time.Minute)

// A sync on an every-minute schedule runs at each tick plus its jitter,
// the jitter being the same at every tick and what NextRun says.
func TestScheduledRunsAtTickPlusJitter(t *testing.T) {
	t.Parallel()
	b := setup(t, "", "buyers", "* * * * *")
	b.start(t, 2) // the sync's timer and the stale check's
	next, ok := b.d.NextRun("buyers")
	require.True(t, ok)
	jitter := next.Sub(nextMinute)
	require.True(t, jitter >= 0 && jitter < 6*time.Second, "jitter %s: at most a tenth of the minute between ticks", jitter)

	for tick := range 3 {
		want := nextMinute.Add(time.Duration(tick)*time.Minute + jitter)
		b.advanceTo(want.Add(-time.Millisecond))
		none(t, b.gate.started, "run before its tick plus jitter")
		b.advanceTo(want)
		st := recv(t, b.gate.started, "scheduled run")
		require.Equal(t, "buyers", st.Run.Sync)
		require.Equal(t, want, st.StartedAt, "tick %d starts at its tick plus jitter", tick)
		fin := recv(t, b.gate.finished, "run end")
		require.Equal(t, report.StatusSucceeded, fin.Status)
		b.waitTimers(t, 2)
		next, ok := b.d.NextRun("buyers")
		require.True(t, ok)
		require.Equal(t, want.Add(time.Minute), next, "NextRun after tick %d", tick)
	}
	_, ok = b.d.NextRun("no-such-sync")
	require.False(t, ok)
}

// A tick while the sync is still running is skipped and logged; the run
// after it starts at the next tick.
func TestTickWhileRunningIsSkipped(t *testing.T) {
	t.Parallel()
	b := setup(t, "serve: {max_jitter: 0s}\n", "buyers", "* * * * *")
	b.gate.holdRuns()
	b.start(t, 2)
	b.advanceTo(nextMinute)
	recv(t, b.gate.started, "first run")
	b.advanceTo(nextMinute.Add(time.Minute))
	require.Eventually(t, func() bool { return b.logs.FilterMessage("skipped: still running").Len() == 1 }, 10*time.Second, 10*time.Millisecond)
	none(t, b.gate.started, "second run of a running sync")
	_, err := b.d.Trigger(t.Context(), "buyers", syncs.RunOptions{})
	require.ErrorIs(t, err, syncs.ErrBusy, "a triggered run of a running sync")

	b.gate.release()
	recv(t, b.gate.finished, "first run's end")
	b.waitIdle(t, 1)
	b.waitTimers(t, 2)
	b.advanceTo(nextMinute.Add(2 * time.Minute))
	st := recv(t, b.gate.started, "run at the tick after the skipped one")
	require.Equal(t, nextMinute.Add(2*time.Minute), st.StartedAt)
}

// serve.max_concurrent_runs caps runs across syncs: ticks beyond the cap
// wait for a slot and start as runs end.
func TestConcurrencyCap(t *testing.T) {
	t.Parallel()
	b := setup(t, "serve: {max_concurrent_runs: 2, max_jitter: 0s}\n", "a", "* * * * *", "b", "* * * * *", "c", "* * * * *")
	b.gate.holdRuns()
	b.start(t, 4)
	b.advanceTo(nextMinute)
	first := map[string]bool{recv(t, b.gate.started, "run 1").Run.Sync: true, recv(t, b.gate.started, "run 2").Run.Sync: true}
	none(t, b.gate.started, "a third run beyond the cap of 2")
	b.gate.release()
	third := recv(t, b.gate.started, "run 3, once a slot is free")
	require.False(t, first[third.Run.Sync], "each sync runs once")
	for range 3 {
		recv(t, b.gate.finished, "run end")
	}
}

// catch-up: once (the default) runs at start a sync whose schedule had a
// tick since its last recorded run; none does not; a sync with no tick
// missed waits for its next one.
func TestCatchUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		serve string
		down  time.Duration
		want  bool
	}{
		{"missed tick, default once", "", 3 * time.Hour, true},
		{"missed tick, none", "serve: {catch_up: none}\n", 3 * time.Hour, false},
		{"no tick missed", "serve: {max_jitter: 0s}\n", 10 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.serve, "buyers", "0 * * * *")
			// A run before the daemon went down.
			svc, err := b.opts.Open(t.Context())
			require.NoError(t, err)
			_, err = svc.Run(t.Context(), "buyers", syncs.RunOptions{})
			require.NoError(t, err)
			require.NoError(t, svc.Close())

			b.clock.Advance(tc.down)
			b.start(t, 2)
			if !tc.want {
				none(t, b.gate.started, "catch-up run")
				return
			}
			st := recv(t, b.gate.started, "catch-up run")
			require.Equal(t, b.clock.Now(), st.StartedAt, "the catch-up run starts at once")
			recv(t, b.gate.finished, "catch-up run's end")
			require.Equal(t, 1, b.logs.FilterMessageSnippet("catch-up").Len())
		})
	}
}

// Jitter is fixed per sync (derived from its name), differs between
// syncs, and respects serve.max_jitter.
func TestJitterPerSync(t *testing.T) {
	t.Parallel()
	b := setup(t, "serve: {max_jitter: 2s}\n", "a", "0 * * * *", "b", "0 * * * *", "c", "0 * * * *")
	b.create(t)
	hour := t0.Truncate(time.Hour).Add(time.Hour)
	seen := map[time.Duration]bool{}
	for _, name := range []string{"a", "b", "c"} {
		next, ok := b.d.NextRun(name)
		require.True(t, ok)
		j := next.Sub(hour)
		require.True(t, j >= 0 && j < 2*time.Second, "sync %s jitter %s", name, j)
		seen[j] = true
	}
	require.Len(t, seen, 3, "three syncs, three offsets")

	again := setup(t, "serve: {max_jitter: 2s}\n", "a", "0 * * * *")
	again.create(t)
	n1, _ := b.d.NextRun("a")
	n2, _ := again.d.NextRun("a")
	require.Equal(t, n1, n2, "the same name gets the same jitter")
}

// A schedule reads in the sync's time zone.
func TestScheduleTimezone(t *testing.T) {
	t.Parallel()
	b := setup(t, "serve: {max_jitter: 0s}\n", "buyers", "30 9 * * *")
	cfg, err := os.ReadFile(b.path)
	require.NoError(t, err)
	cfg = append(cfg, "    timezone: America/New_York\n"...)
	require.NoError(t, os.WriteFile(b.path, cfg, 0o600))
	b.create(t)
	next, ok := b.d.NextRun("buyers")
	require.True(t, ok)
	// 9:30 in New York on 2 March 2026 (EST, UTC-5) is 14:30 UTC.
	require.Equal(t, time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC), next)
}

// Reload refuses a config that does not validate, keeping the old one in
// force, and puts a valid one in force.
func TestReload(t *testing.T) {
	t.Parallel()
	b := setup(t, "serve: {max_jitter: 0s}\n", "buyers", "* * * * *")
	b.start(t, 2)

	require.NoError(t, os.WriteFile(b.path, []byte("syncs: [{name: broken, schedule: \"every day\"}]\n"), 0o600))
	err := b.d.Reload(t.Context())
	var ce *syncs.ConfigError
	require.True(t, errors.As(err, &ce), "error %v", err)
	require.ErrorContains(t, err, "keeps running")
	require.Equal(t, 1, b.logs.FilterMessageSnippet("reload refused").Len())
	_, ok := b.d.NextRun("buyers")
	require.True(t, ok, "the old config stays in force")
	b.advanceTo(nextMinute)
	recv(t, b.gate.started, "the old config's sync still runs")
	recv(t, b.gate.finished, "its end")

	writeConfig(t, b.dir, "serve: {max_jitter: 0s}\n", "sellers", "*/5 * * * *")
	require.NoError(t, b.d.Reload(t.Context()))
	_, ok = b.d.NextRun("buyers")
	require.False(t, ok, "a sync gone from the config is no longer scheduled")
	next, ok := b.d.NextRun("sellers")
	require.True(t, ok)
	require.Equal(t, nextMinute.Truncate(5*time.Minute).Add(5*time.Minute), next)
	require.Equal(t, "sellers", b.d.Service().Syncs()[0].Name)
}

// On stop, a run in progress gets the grace period, then is cancelled;
// no tick starts a run once the daemon is stopping.
func TestShutdownGraceThenCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, "serve: {max_jitter: 0s}\n", "buyers", "* * * * *")
	b.gate.holdRuns()
	_, stop := b.start(t, 2)
	b.advanceTo(nextMinute)
	recv(t, b.gate.started, "run")
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	b.waitTimers(t, 1) // the grace timer
	none(t, stopped, "stop before the grace period")
	b.clock.Advance(time.Minute)
	// The run, cancelled, still waits at the gate until released: the
	// engine sees the cancellation when it goes on.
	b.gate.release()
	fin := recv(t, b.gate.finished, "the cancelled run's end")
	// Cancelled before its source was read, the engine calls the run
	// failed (interrupted once it is applying): either way it stopped.
	require.Contains(t, []report.Status{report.StatusInterrupted, report.StatusFailed}, fin.Status)
	require.ErrorContains(t, fin.Err, context.Canceled.Error())
	recv(t, stopped, "stop")
	require.Equal(t, 1, b.logs.FilterMessageSnippet("grace period over").Len())
	_, err := b.d.Trigger(t.Context(), "buyers", syncs.RunOptions{})
	require.ErrorIs(t, err, daemon.ErrStopping, "no run starts once stopped")
}
