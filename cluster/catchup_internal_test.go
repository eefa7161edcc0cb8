package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/internal/pgtest"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// catchUp, as two nodes elected at once would run it, against what the
// queue and the run log hold: a sync with a tick due since its last job
// or run gets one catch-up job between both nodes, and a third look (a
// node elected next) finds it and queues none; a sync whose job is
// still running gets none (the insert is skipped); a sync never run or
// queued waits for its first tick. Each schedule is anchored at the last
// job: the next tick is on the old leader's phase, not a period after
// the election.
func TestCatchUpQueuesOneRunBetweenNodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		every time.Duration
		// jobAge and jobState, when set, are the sync's newest job;
		// run is a run in the run log, after which the test waits
		// wait.
		jobAge   time.Duration
		jobState string
		run      bool
		wait     time.Duration
		want     int
		// nextIn is when, from the look, the next tick is due (0: not
		// checked).
		nextIn time.Duration
	}{
		{name: "ticks missed since the last job", every: 10 * time.Second, jobAge: 25 * time.Second, jobState: "completed", want: 1,
			nextIn: 10 * time.Second},
		{name: "no tick missed", every: 10 * time.Second, jobAge: 4 * time.Second, jobState: "completed", want: 0, nextIn: 6 * time.Second},
		{name: "never run or queued", every: time.Second, want: 0},
		{name: "a tick since the last run, no job left", every: time.Second, run: true, wait: 1500 * time.Millisecond, want: 1},
		{name: "the job is still running", every: 10 * time.Second, jobAge: 25 * time.Second, jobState: "running", want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := clusterDB{dsn: pgtest.Database(t, pg)}
			cfg := writeCatchUpConfig(t, db, 1, "@daily", configs.CatchUpOnce)
			ctx := t.Context()
			svc, err := syncs.Open(ctx, syncs.Options{ConfigPath: cfg})
			require.NoError(t, err)
			defer svc.Close()
			nodes := make([]*Cluster, 3)
			for i := range nodes {
				nodes[i], err = Open(ctx, svc.Config(), Options{DSN: db.dsn, Workers: 1})
				require.NoError(t, err)
				defer nodes[i].Stop(ctx)
				require.NoError(t, nodes[i].schedule(map[string]river.PeriodicSchedule{"sync-00": river.PeriodicInterval(tc.every)}))
			}
			var created time.Time
			if tc.jobState != "" {
				res, err := nodes[0].client.Insert(ctx, RunArgs{Sync: "sync-00", Trigger: "schedule"}, nil)
				require.NoError(t, err)
				require.NoError(t, sqlRow(t, db.dsn, `UPDATE river_job SET created_at = now() - $2 * interval '1 millisecond', state = $3::text::river_job_state,
					attempt = 1, attempted_at = now(), finalized_at = CASE WHEN $3::text = 'completed' THEN now() END WHERE id = $1 RETURNING created_at`,
					res.Job.ID, tc.jobAge.Milliseconds(), tc.jobState).Scan(&created))
			}
			if tc.run {
				_, err := svc.Run(ctx, "sync-00", syncs.RunOptions{StartedBy: "cli"})
				require.NoError(t, err)
				time.Sleep(tc.wait)
			}

			// Two nodes elected at once.
			var wg sync.WaitGroup
			queued := make([][]string, 2)
			errs := make([]error, 2)
			for i := range 2 {
				wg.Go(func() { queued[i], errs[i] = nodes[i].catchUp(ctx, svc, time.Now()) })
			}
			wg.Wait()
			require.NoError(t, errs[0])
			require.NoError(t, errs[1])
			require.Len(t, slices.Concat(queued...), tc.want, "catch-up runs queued by the two nodes: %v", queued)
			// The node elected next.
			again, err := nodes[2].catchUp(ctx, svc, time.Now())
			require.NoError(t, err)
			require.Empty(t, again, "a node elected after the catch-up queues none")
			var jobs int
			require.NoError(t, sqlRow(t, db.dsn, "SELECT count(*) FROM river_job WHERE args->>'trigger' = 'catch-up'").Scan(&jobs))
			require.Equal(t, tc.want, jobs)

			if tc.nextIn > 0 {
				next := nodes[2].tickSchedules()["sync-00"].Next(time.Now())
				want := created.Add(tickSlack).Add(tc.every)
				if tc.want > 0 {
					// Missed: the schedule starts afresh, as the
					// single daemon's does after its catch-up.
					want = time.Now().Add(tc.every)
				}
				require.WithinDuration(t, want, next, 500*time.Millisecond, "the next tick")
			}
		})
	}
}

// clusterLeader returns the River client id of the cluster's leader, ""
// while there is none (or its lease has lapsed).
func clusterLeader(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var id string
	err := pool.QueryRow(t.Context(), "SELECT leader_id FROM river_leader WHERE expires_at > now()").Scan(&id)
	if err != nil {
		// No leader yet, or no node has made River's tables yet.
		require.True(t, errors.Is(err, pgx.ErrNoRows) || strings.Contains(err.Error(), `relation "river_leader" does not exist`), "%v", err)
		return ""
	}
	return id
}

// testPool is a connection pool on dsn for t's look-ups.
func testPool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// waitLeader waits until the cluster's leader satisfies ok and returns
// it.
func waitLeader(t *testing.T, pool *pgxpool.Pool, within time.Duration, ok func(string) bool) string {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		id = clusterLeader(t, pool)
		return ok(id)
	}, within, 50*time.Millisecond, "leader %q", id)
	return id
}

// waitTickDone waits until each of n syncs has had at least one more run
// job than after, and no run job is left unfinished: a moment between
// ticks. It returns the completed jobs' count.
func waitTickDone(t *testing.T, pool *pgxpool.Pool, n, after int) int {
	t.Helper()
	var done, open int
	require.Eventually(t, func() bool {
		require.NoError(t, pool.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE finalized_at IS NULL)
			FROM river_job WHERE kind = $1`, RunArgs{}.Kind()).Scan(&done, &open))
		return done >= after+n && open == 0
	}, 30*time.Second, 20*time.Millisecond, "%d jobs completed, %d open", done, open)
	return done
}

// syncRuns returns the runs of the syncs sync-00… of cfg, oldest first,
// and fails on a skipped tick, a run that did not succeed or two runs of
// a sync that overlap.
func syncRuns(t *testing.T, cfg string, n int) map[string][]syncs.RunRecord {
	t.Helper()
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: cfg})
	require.NoError(t, err)
	defer svc.Close()
	out := map[string][]syncs.RunRecord{}
	for i := range n {
		name := fmt.Sprintf("sync-%02d", i)
		runs, err := svc.ListRuns(t.Context(), state.RunFilter{Sync: name, Limit: 1000})
		require.NoError(t, err)
		slices.Reverse(runs)
		for j, r := range runs {
			t.Logf("%s %s %-9s %s → %s", name, r.StartedBy, r.Status, r.Started.Format("15:04:05.000"), r.Finished.Format("15:04:05.000"))
			require.Equal(t, string(report.StatusSucceeded), r.Status, "%s run %s", name, r.ID)
			if j > 0 {
				require.False(t, r.Started.Before(runs[j-1].Finished), "%s: runs %s and %s overlap", name, runs[j-1].ID, r.ID)
			}
		}
		out[name] = runs
	}
	return out
}

// catchUps returns the runs started by a catch-up.
func catchUps(runs []syncs.RunRecord) []syncs.RunRecord {
	var out []syncs.RunRecord
	for _, r := range runs {
		if r.StartedBy == "catch-up" {
			out = append(out, r)
		}
	}
	return out
}

// The leader, a node in another process, is killed (SIGKILL) between two
// ticks: its lease stays in river_leader until it lapses, so no node
// enqueues the ticks due meanwhile. The other node, once elected, runs
// each sync exactly once with trigger catch-up, at once, then ticks on:
// no tick skipped, no run overlapping another, no second catch-up.
func TestNewLeaderCatchesUpAfterTheLeaderIsKilled(t *testing.T) {
	t.Parallel()
	forEachState(t, testNewLeaderCatchesUpAfterTheLeaderIsKilled)
}

func testNewLeaderCatchesUpAfterTheLeaderIsKilled(t *testing.T, db clusterDB) {
	const nSyncs, every = 2, 4 * time.Second
	cfg := writeCatchUpConfig(t, db, nSyncs, "@every 4s", configs.CatchUpOnce)
	pool := testPool(t, db.dsn)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeConfigEnv+"="+cfg, nodeDSNEnv+"="+db.queueDSN())
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-waited
	})
	killed := waitLeader(t, pool, 30*time.Second, func(id string) bool { return id != "" })
	b := startTestNode(t, cfg, db.queueDSN(), 2)

	// Between ticks: the first tick's jobs are all completed.
	waitTickDone(t, pool, nSyncs, 0)
	require.NoError(t, cmd.Process.Kill())
	killedAt := time.Now()
	<-waited
	waited <- nil
	waitLeader(t, pool, 40*time.Second, func(id string) bool { return id == b.q.client.ID() })
	electedAt := time.Now()
	t.Logf("leader %s killed; %s elected %s later", killed, b.q.client.ID(), electedAt.Sub(killedAt).Round(time.Millisecond))
	require.Greater(t, electedAt.Sub(killedAt), every, "the lease outlives a tick: a tick is missed")
	time.Sleep(2*every + every/2)
	require.NoError(t, b.stop())

	for name, runs := range syncRuns(t, cfg, nSyncs) {
		caught := catchUps(runs)
		require.Len(t, caught, 1, "%s: one catch-up", name)
		c := caught[0]
		require.True(t, c.Started.After(killedAt), "%s: the catch-up comes after the kill", name)
		require.WithinDuration(t, electedAt, c.Started, 2*time.Second, "%s: the catch-up runs at the election", name)
		i := slices.IndexFunc(runs, func(r syncs.RunRecord) bool { return r.ID == c.ID })
		require.Positive(t, i, "%s: ticks ran before the kill", name)
		require.True(t, runs[i-1].Started.Before(killedAt), "%s: no run between the kill and the catch-up", name)
		after := runs[i+1:]
		require.GreaterOrEqual(t, len(after), 2, "%s: ticks go on after the catch-up", name)
		require.GreaterOrEqual(t, after[0].Started.Sub(c.Started), every-time.Second, "%s: the next tick a period after the catch-up", name)
		for j := 1; j < len(after); j++ {
			require.InDelta(t, every.Seconds(), after[j].Started.Sub(after[j-1].Started).Seconds(), 1, "%s: one run a tick", name)
		}
	}
}

// The leader is stopped, or no node runs for a while, and another is
// elected: serve.catch_up decides what it does with the ticks nobody
// enqueued meanwhile.
//
//   - A leader stopped between ticks resigns, and the other node takes
//     over before the next tick: nothing is missed, so nothing is caught
//     up, and that tick comes on the old leader's phase.
//   - once: no node runs for longer than a tick; the node that starts
//     then runs each sync once (catch-up), and a node elected right after
//     it (the first stopped before its first tick) runs no second one.
//   - none: the same outage is not caught up: the next run is a tick,
//     one period after the election, as before.
func TestLeaderHandoverCatchUpPolicy(t *testing.T) {
	t.Parallel()
	const nSyncs, every = 2, 4 * time.Second
	tests := []struct {
		name    string
		catchUp string
		// outage is how long no node runs after the leader stops; 0:
		// the other node runs all along.
		outage      time.Duration
		wantCatchUp bool
	}{
		{name: "handover within a tick", catchUp: configs.CatchUpOnce},
		{name: "once: a tick missed", catchUp: configs.CatchUpOnce, outage: every + 2*time.Second, wantCatchUp: true},
		{name: "none: a tick missed", catchUp: configs.CatchUpNone, outage: every + 2*time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newClusterDB(t, "postgres")
			cfg := writeCatchUpConfig(t, db, nSyncs, "@every 4s", tc.catchUp)
			pool := testPool(t, db.dsn)
			a := startTestNode(t, cfg, db.queueDSN(), 2)
			waitLeader(t, pool, 20*time.Second, func(id string) bool { return id == a.q.client.ID() })
			var b *node
			if tc.outage == 0 {
				b = startTestNode(t, cfg, db.queueDSN(), 2)
			}
			waitTickDone(t, pool, nSyncs, 0)
			time.Sleep(every / 2) // mid-way between two ticks
			require.NoError(t, a.stop())
			stoppedAt := time.Now()
			if tc.outage > 0 {
				time.Sleep(tc.outage)
				b = startTestNode(t, cfg, db.queueDSN(), 2)
			}
			waitLeader(t, pool, 20*time.Second, func(id string) bool { return id == b.q.client.ID() })
			electedAt := time.Now()
			t.Logf("leader stopped; the next elected %s later", electedAt.Sub(stoppedAt).Round(time.Millisecond))
			if tc.wantCatchUp {
				// Stopped once its catch-up has run, before its first
				// tick: the next leader must not catch up again.
				waitTickDone(t, pool, nSyncs, nSyncs)
				require.NoError(t, b.stop())
				c := startTestNode(t, cfg, db.queueDSN(), 2)
				waitLeader(t, pool, 20*time.Second, func(id string) bool { return id == c.q.client.ID() })
				b = c
			}
			time.Sleep(2*every + every/2)
			require.NoError(t, b.stop())

			for name, runs := range syncRuns(t, cfg, nSyncs) {
				caught := catchUps(runs)
				first := slices.IndexFunc(runs, func(r syncs.RunRecord) bool { return r.Started.After(stoppedAt) })
				require.Positive(t, first, "%s: runs before and after the stop", name)
				if !tc.wantCatchUp {
					require.Empty(t, caught, "%s: no catch-up", name)
					gap := runs[first].Started.Sub(runs[first-1].Started)
					if tc.outage == 0 {
						require.InDelta(t, every.Seconds(), gap.Seconds(), 0.5, "%s: the tick after the handover on the old phase", name)
					} else {
						require.GreaterOrEqual(t, runs[first].Started.Sub(electedAt), every-time.Second,
							"%s: the first run is a tick a period after the election", name)
					}
					continue
				}
				require.Len(t, caught, 1, "%s: one catch-up between the two leaders", name)
				require.Equal(t, caught[0].ID, runs[first].ID, "%s: the first run after the outage is the catch-up", name)
				require.WithinDuration(t, electedAt, caught[0].Started, 2*time.Second, "%s: at the election", name)
			}
		})
	}
}
