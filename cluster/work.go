package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
)

// RunArgs is a run job: one run of one sync. Only Sync takes part in
// the job's uniqueness, so a tick, a catch-up and a "run now" of one
// sync are one job while it is waiting or running.
type RunArgs struct {
	Sync string `json:"sync" river:"unique"`
	// Trigger is what asked for the run: schedule, catch-up or api.
	Trigger string `json:"trigger"`
	// StartedBy is recorded in the run log ("api:NAME", "web:NAME");
	// empty means the trigger.
	StartedBy   string `json:"started_by,omitempty"`
	FullRefresh bool   `json:"full_refresh,omitempty"`
	Force       bool   `json:"force,omitempty"`
}

// Kind is the River job kind of run jobs.
func (RunArgs) Kind() string { return "audiencesync_run" }

// uniqueStates are the job states in which a run job blocks another of
// its sync: every state but the finished ones, retryable included (a
// job rescued from a killed node runs again shortly).
var uniqueStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// InsertOpts puts run jobs on QueueName, unique per sync until they end.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueName, MaxAttempts: maxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueStates}}
}

// jobOutput is recorded on a run job when it ends, so that Enqueue with
// wait, on any node, finds the run's report.
type jobOutput struct {
	RunID  string `json:"run_id,omitempty"`
	Status string `json:"status,omitempty"`
	// Busy says the sync's lock was held elsewhere (a CLI run).
	Busy bool `json:"busy,omitempty"`
}

// Snoozes of a job that cannot run yet; a snooze uses up no attempt.
const (
	// stoppingSnooze: this node is shutting down; another takes the job.
	stoppingSnooze = time.Second
	// busySnoozeMax bounds the wait for the sync's lock held elsewhere.
	busySnoozeMax = time.Minute
)

// runner is what works a run job: the daemon.
type runner interface {
	Work(ctx context.Context, run daemon.QueuedRun) (*report.Report, error)
}

// runWorker works run jobs through the daemon, as its scheduler would.
type runWorker struct {
	river.WorkerDefaults[RunArgs]
	c *Cluster
	// run overrides the daemon (tests).
	run runner
}

// Work runs the job's sync. A run that took place completes the job,
// whatever its status (the run log and the alerts say how it went; the
// next tick tries again). A run cut short (the node stopped past its
// grace period, or the job timed out), or one that could not start, is
// returned as an error for River to retry, on this node or another.
// A run is cut short when the job's context ends, or when its report says
// interrupted but not by its own run deadline: the daemon cancelled it,
// stopping.
func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	c := w.c
	if job.AttemptedAt != nil {
		c.metrics.latency.WithLabelValues(job.Queue).Observe(max(0, job.AttemptedAt.Sub(job.ScheduledAt)).Seconds())
	}
	r := w.run
	if r == nil {
		r = c.daemon()
	}
	run := daemon.QueuedRun{Sync: job.Args.Sync, Trigger: job.Args.Trigger, Retry: job.Attempt > 1,
		Options: syncs.RunOptions{StartedBy: job.Args.StartedBy, FullRefresh: job.Args.FullRefresh, Force: job.Args.Force,
			Observer: c.announce(ctx, job.ID)}}
	start := time.Now()
	rep, err := r.Work(ctx, run)
	run.Options.Observer = nil
	c.metrics.duration.WithLabelValues(job.Queue).Observe(time.Since(start).Seconds())
	log := c.log.With(zap.String("sync", run.Sync), zap.Int64("job", job.ID), zap.Int("attempt", job.Attempt))

	var out jobOutput
	if rep != nil {
		out.RunID, out.Status = rep.RunID, string(rep.Status)
	}
	var busy *syncs.BusyError
	switch {
	case errors.Is(err, daemon.ErrStopping):
		return river.JobSnooze(stoppingSnooze)
	case rep == nil && errors.Is(err, syncs.ErrNotFound):
		// The sync left the config (a reload): nothing to retry.
		return river.JobCancel(err)
	case rep == nil && errors.Is(err, syncs.ErrBusy):
		switch {
		case run.Retry:
			// A job retried after its node died: its lock is the dead
			// run's, until it expires, or a run elsewhere holds it.
			wait := busySnoozeMax
			if errors.As(err, &busy) {
				wait = min(busySnoozeMax, max(time.Second, time.Until(busy.Holder.Expires)))
			}
			log.Info("sync busy: the job waits for its lock", zap.Duration("snooze", wait))
			return river.JobSnooze(wait)
		case run.Trigger == "api":
			out.Busy = true
			_ = river.RecordOutput(ctx, out)
			return river.JobCancel(err)
		default:
			// A tick of a sync running outside the queue: skipped and
			// recorded as such by the daemon.
			return nil
		}
	case rep == nil:
		return fmt.Errorf("run of sync %s did not start: %w", run.Sync, err)
	}
	if rerr := river.RecordOutput(ctx, out); rerr != nil {
		log.Warn("the run id was not recorded on the job", zap.Error(rerr))
	}
	var deadline *syncs.DeadlineError
	if ctx.Err() != nil || (rep.Status == report.StatusInterrupted && !errors.As(err, &deadline)) {
		// Cut short: by the job's timeout, or by this node's stop once
		// its grace period was over (the daemon cancels its own runs;
		// River's context of the job is still live then). A run stopped
		// at its own safety.max_run_duration is not: the next tick
		// carries on. State holds what was acknowledged; the retry, on
		// any node, carries on from there.
		why := context.Cause(ctx)
		if why == nil {
			why = errors.New("the node stopped")
		}
		return fmt.Errorf("run %s of sync %s was cut short (%w): it is retried", rep.RunID, run.Sync, why)
	}
	return nil
}

// announce returns the observer that writes the run's id on the job as
// soon as the run is recorded, so that whoever waits for the job (the API
// of another node) learns it before the run ends.
func (c *Cluster) announce(ctx context.Context, id int64) engine.Observer {
	return engine.ObserverFunc(func(ev engine.Event) {
		rs, ok := ev.(engine.RunStarted)
		if !ok || c.client == nil {
			return
		}
		if err := river.RecordOutput(ctx, jobOutput{RunID: rs.Run.ID, Status: string(report.StatusRunning)}); err != nil {
			return
		}
		// JobUpdate without an output stores what was recorded so far.
		if _, err := c.client.JobUpdate(ctx, id, &river.JobUpdateParams{}); err != nil {
			c.log.Debug("the run id was not written on its job early", zap.Int64("job", id), zap.Error(err))
		}
	})
}

// skipRecorder is the insert middleware that records, through the
// daemon, each tick River did not enqueue because its sync's job was
// still there: the run log shows every tick, run or skipped.
type skipRecorder struct {
	river.MiddlewareDefaults
	c *Cluster
}

// InsertMany inserts, then records the skipped ticks among params.
func (m *skipRecorder) InsertMany(ctx context.Context, params []*rivertype.JobInsertParams,
	doInner func(context.Context) ([]*rivertype.JobInsertResult, error)) ([]*rivertype.JobInsertResult, error) {
	res, err := doInner(ctx)
	if err != nil || len(res) != len(params) {
		return res, err
	}
	d := m.c.daemon()
	for i, r := range res {
		args, ok := params[i].Args.(RunArgs)
		if !ok || !r.UniqueSkippedAsDuplicate || args.Trigger == "api" || d == nil {
			continue
		}
		d.SkippedTick(ctx, args.Sync, args.Trigger, fmt.Sprintf(
			"skipped: the previous run of this sync was still %s in the cluster (job %d); the next tick runs it again", r.Job.State, r.Job.ID))
	}
	return res, nil
}
