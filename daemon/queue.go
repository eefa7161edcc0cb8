package daemon

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
)

// Queue hands the daemon's runs to a job queue that several daemons share
// (package cluster, `serve --workers`), in place of the in-process
// scheduler: the queue enqueues each sync's ticks, and whichever daemon
// takes a job runs it through Daemon.Work, so a run goes through the same
// overlap check, run log, metrics and alerts as a scheduled one.
type Queue interface {
	// Start starts working jobs, each through d.Work. It returns once
	// the queue works; Stop stops it.
	Start(ctx context.Context, d *Daemon) error
	// Schedule replaces the periodic jobs: one per sync with a schedule,
	// ticking on its Schedule. The daemon calls it at start and on each
	// reload.
	Schedule(schedules map[string]*Schedule) error
	// Enqueue asks for a run now. With wait it returns the run's report
	// (and its error, as Service.Run does) once a worker has run it;
	// without, once the job is queued. A run of the sync already queued
	// or running in the cluster is an error matching syncs.ErrBusy.
	Enqueue(ctx context.Context, run QueuedRun, wait bool) (*report.Report, error)
	// Stop stops fetching jobs and returns once the jobs in progress have
	// returned (the daemon cancels them when its grace period is over).
	// A second Stop returns at once.
	Stop(ctx context.Context) error
	// Collector exports the queue's own metrics (depth, latency) at
	// /metrics beside the daemon's.
	Collector() prometheus.Collector
}

// QueueFactory opens the Queue on the config the daemon starts with. The
// queue's settings (serve.queue) are read once: a reload changes the
// schedules, not the queue.
type QueueFactory func(ctx context.Context, cfg *configs.Config) (Queue, error)

// QueuedRun is one run a Queue asks for or hands to Daemon.Work.
type QueuedRun struct {
	Sync string
	// Trigger is what asked for the run: schedule, catch-up or api.
	Trigger string
	// Options are the run's options; an Observer does not travel
	// through the queue.
	Options syncs.RunOptions
	// Retry is set on a later attempt of a job whose earlier attempt
	// failed, was cancelled or was abandoned (its worker died). Finding
	// the sync busy is then no skipped tick: the job waits for the run
	// holding the lock instead, and nothing is recorded.
	Retry bool
}

// Work runs a queued run here, through the same overlap check,
// concurrency cap, run log, metrics and alerts as a scheduled run. It
// fails with ErrStopping once the daemon is shutting down, and the run's
// context also ends when the grace period after a stop is over.
func (d *Daemon) Work(ctx context.Context, run QueuedRun) (*report.Report, error) {
	ctx, done, err := d.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return d.run(ctx, run.Sync, run.Trigger, run.Options, run.Trigger != "api" && !run.Retry)
}

// SkippedTick counts and records in the run log a tick that did not run,
// saying why: a Queue calls it for a tick it did not enqueue because a
// run of the sync was still queued or running.
func (d *Daemon) SkippedTick(ctx context.Context, sync, trigger, reason string) {
	d.mu.Lock()
	g := d.gen
	d.mu.Unlock()
	d.skipped(ctx, g, sync, trigger, reason, trigger != "api")
}

// enqueue asks the queue for a run. Without wait it logs what it could
// not queue itself (a catch-up has no caller to tell).
func (d *Daemon) enqueue(ctx context.Context, run QueuedRun, wait bool) (*report.Report, error) {
	rep, err := d.queue.Enqueue(ctx, run, wait)
	if err != nil && !wait {
		if errors.Is(err, syncs.ErrBusy) {
			d.log.Info("not queued: a run of the sync is queued or running in the cluster already", zap.String("sync", run.Sync),
				zap.String("trigger", run.Trigger))
		} else {
			d.log.Error("run not queued", zap.String("sync", run.Sync), zap.String("trigger", run.Trigger), zap.Error(err))
		}
	}
	return rep, err
}
