package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/internal/pgtest"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// fakeRunner answers Work with a fixed outcome and keeps what it was asked.
type fakeRunner struct {
	rep    *report.Report
	err    error
	during func() // called while "running"
	got    []daemon.QueuedRun
}

func (f *fakeRunner) Work(_ context.Context, run daemon.QueuedRun) (*report.Report, error) {
	f.got = append(f.got, run)
	if f.during != nil {
		f.during()
	}
	return f.rep, f.err
}

// migratedPool returns a pool on a new database with River's tables.
func migratedPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), pgtest.Database(t, pg))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, migrate(t.Context(), pool))
	return pool
}

func beginTx(t *testing.T, pool *pgxpool.Pool) pgx.Tx {
	t.Helper()
	tx, err := pool.Begin(t.Context())
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(t.Context())) })
	return tx
}

// The run worker turns the daemon's answer into River's outcome: a run
// that took place completes the job with its run id recorded, whatever
// its status; a busy sync skips a tick, refuses a "run now" and makes a
// retried job wait; a sync gone from the config cancels the job; a run
// that did not start, or was cut short (its job's context ended, or the
// daemon interrupted it at its stop), is retried.
func TestRunWorker(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	failed := &report.Report{RunID: "r-failed", Sync: "s1", Status: report.StatusFailed}
	busy := &syncs.BusyError{Sync: "s1", Holder: state.Lock{Expires: time.Now().Add(20 * time.Second)}}
	tests := []struct {
		name      string
		args      RunArgs
		retry     bool
		cutShort  bool
		rep       *report.Report
		err       error
		wantEvent river.EventKind
		wantOut   jobOutput
	}{
		{"succeeded", RunArgs{Sync: "s1", Trigger: "schedule"}, false, false,
			&report.Report{RunID: "r-ok", Status: report.StatusSucceeded}, nil, river.EventKindJobCompleted, jobOutput{RunID: "r-ok", Status: "succeeded"}},
		{"failed run completes the job", RunArgs{Sync: "s1", Trigger: "schedule"}, false, false,
			failed, errors.New("platform said no"), river.EventKindJobCompleted, jobOutput{RunID: "r-failed", Status: "failed"}},
		{"busy tick is skipped", RunArgs{Sync: "s1", Trigger: "schedule"}, false, false,
			nil, busy, river.EventKindJobCompleted, jobOutput{}},
		{"busy run now is refused", RunArgs{Sync: "s1", Trigger: "api", StartedBy: "api:ops"}, false, false,
			nil, busy, river.EventKindJobCancelled, jobOutput{Busy: true}},
		{"busy retry waits", RunArgs{Sync: "s1", Trigger: "schedule"}, true, false,
			nil, busy, river.EventKindJobSnoozed, jobOutput{}},
		{"unknown sync cancels", RunArgs{Sync: "gone", Trigger: "schedule"}, false, false,
			nil, syncs.ErrNotFound, river.EventKindJobCancelled, jobOutput{}},
		{"stopping node hands the job on", RunArgs{Sync: "s1", Trigger: "schedule"}, false, false,
			nil, daemon.ErrStopping, river.EventKindJobSnoozed, jobOutput{}},
		{"not started is retried", RunArgs{Sync: "s1", Trigger: "schedule"}, false, false,
			nil, errors.New("open state: disk full"), river.EventKindJobFailed, jobOutput{}},
		{"cut short is retried", RunArgs{Sync: "s1", Trigger: "schedule"}, false, true,
			failed, context.Canceled, river.EventKindJobFailed, jobOutput{RunID: "r-failed", Status: "failed"}},
		{"cancelled by the node's stop is retried", RunArgs{Sync: "s1", Trigger: "schedule"}, false, false,
			&report.Report{RunID: "r-stopped", Status: report.StatusInterrupted}, context.Canceled, river.EventKindJobFailed,
			jobOutput{RunID: "r-stopped", Status: "interrupted"}},
		{"stopped at its run deadline completes the job", RunArgs{Sync: "s1", Trigger: "schedule"}, false, false,
			&report.Report{RunID: "r-long", Status: report.StatusInterrupted}, errors.Join(context.DeadlineExceeded, &syncs.DeadlineError{Sync: "s1", Limit: time.Hour}),
			river.EventKindJobCompleted, jobOutput{RunID: "r-long", Status: "interrupted"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeRunner{rep: tc.rep, err: tc.err}
			c := &Cluster{log: zap.NewNop(), metrics: newMetrics(pool)}
			w := rivertest.NewWorker(t, riverpgxv5.New(nil), &river.Config{}, &runWorker{c: c, run: fake})
			tx := beginTx(t, pool)
			ctx := t.Context()
			if tc.cutShort {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				fake.during = cancel
			}
			client, err := river.NewClient(riverpgxv5.New(nil), &river.Config{})
			require.NoError(t, err)
			ins, err := client.InsertTx(t.Context(), tx, tc.args, nil)
			require.NoError(t, err)
			job := ins.Job
			if tc.retry {
				job.Attempt = 1 // worked once already: this is attempt 2
			}
			res, err := w.WorkJob(ctx, t, tx, job)
			if tc.wantEvent == river.EventKindJobFailed {
				require.Error(t, err, "the job is retried")
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.wantEvent, res.EventKind)
			require.Len(t, fake.got, 1)
			got := fake.got[0]
			require.NotNil(t, got.Options.Observer, "the run's id is written on the job at its start")
			got.Options.Observer = nil
			require.Equal(t, daemon.QueuedRun{Sync: tc.args.Sync, Trigger: tc.args.Trigger, Retry: tc.retry,
				Options: syncs.RunOptions{StartedBy: tc.args.StartedBy}}, got)
			var out jobOutput
			if raw := res.Job.Output(); len(raw) > 0 {
				require.NoError(t, json.Unmarshal(raw, &out))
			}
			require.Equal(t, tc.wantOut, out)
		})
	}
}

// Run jobs are unique per sync while waiting or running: a second job of
// one sync is not inserted (whatever its trigger or options), one of
// another sync is, and once the first has finished its sync may be
// queued again.
func TestRunArgsUniquePerSync(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	ctx := t.Context()
	tx := beginTx(t, pool)

	first, err := client.InsertTx(ctx, tx, RunArgs{Sync: "s1", Trigger: "schedule"}, nil)
	require.NoError(t, err)
	require.False(t, first.UniqueSkippedAsDuplicate)
	require.Equal(t, QueueName, first.Job.Queue)

	for _, dup := range []RunArgs{{Sync: "s1", Trigger: "schedule"}, {Sync: "s1", Trigger: "api", StartedBy: "api:ops", Force: true}} {
		res, err := client.InsertTx(ctx, tx, dup, nil)
		require.NoError(t, err)
		require.True(t, res.UniqueSkippedAsDuplicate, "%+v", dup)
		require.Equal(t, first.Job.ID, res.Job.ID)
	}
	other, err := client.InsertTx(ctx, tx, RunArgs{Sync: "s2", Trigger: "schedule"}, nil)
	require.NoError(t, err)
	require.False(t, other.UniqueSkippedAsDuplicate)

	// Every waiting or running state blocks; a finished job does not.
	for _, st := range []rivertype.JobState{rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStateCompleted} {
		_, err := tx.Exec(ctx, "UPDATE river_job SET state = $1::river_job_state, finalized_at = CASE WHEN $1::text = 'completed' THEN now() END WHERE id = $2", string(st), first.Job.ID)
		require.NoError(t, err)
		res, err := client.InsertTx(ctx, tx, RunArgs{Sync: "s1", Trigger: "schedule"}, nil)
		require.NoError(t, err)
		require.Equal(t, st != rivertype.JobStateCompleted, res.UniqueSkippedAsDuplicate, "first job %s", st)
	}
}
