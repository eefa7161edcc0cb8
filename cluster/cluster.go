// Package cluster is `audiencesync serve --workers N`: several daemons
// share the syncs of one config through a River job queue in PostgreSQL.
//
// Every node runs the daemon (API, web UI, metrics, alerts) with a
// Cluster as its daemon.Queue. Each sync with a schedule is a River
// periodic job ticking on the daemon's own Schedule (cron fields in the
// sync's time zone, jitter included); only the elected leader among the
// nodes enqueues those ticks. River keeps them in the leader's memory,
// so while no node is leader (a killed leader's lease has not lapsed,
// or every node was down) no tick is enqueued; the node elected next
// compares each sync's last tick enqueued or run with its schedule and
// applies serve.catch_up, as the single daemon does at start (see
// catchup.go): one catch-up run for the ticks missed, and the schedules
// carry on from their last tick. A tick is a run job (RunArgs) unique per
// sync while it is scheduled, available, running or waiting for a retry,
// so two nodes never run one sync at once; a tick that finds its sync's
// job still there is not enqueued and is recorded in the run log as
// skipped, as the single daemon records it. The per-sync lock in the
// state store stays as the second guard (a CLI run, or a node still
// working a job River took for abandoned).
//
// Any node works any job, up to N at once, through daemon.Daemon.Work:
// the run log, started_by, metrics and alerts are those of a scheduled
// run. A node killed mid-run leaves its job running in the queue; once it
// has been running for longer than serve.queue.rescue_after, the leader
// rescues it and another node runs the sync again. That run starts from
// what the killed one committed (every acknowledged batch), so the
// audience converges exactly. API and web "run now" requests become run
// jobs too, which any node may take.
//
// Open runs River's migrations (under an advisory lock, so nodes starting
// together do not race) before anything else. The sync state stays in the
// state store: the API and web UI of every node read it, so each shows the
// whole cluster's runs. With state.dsn and no serve.queue.dsn, River's
// tables sit beside the state's in one database, on a connection pool of
// the Cluster's own rather than the store's (state/postgres's Pool): the
// queue lives as long as the process, while a config reload replaces the
// service and closes its store. Their advisory locks do not meet: River's
// and the migration lock here take one bigint key, the store two int4 keys,
// which PostgreSQL keeps apart.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
)

// QueueName is the River queue run jobs go to.
const QueueName = "audiencesync"

// Defaults beyond the syncs' own run deadlines.
const (
	// jobTimeoutMargin is added to the longest safety.max_run_duration
	// for the default job timeout: the sync's own deadline stops a run
	// first, with its report.
	jobTimeoutMargin = time.Minute
	// rescueMargin is added to the job timeout for the default
	// rescue_after: River must never take a job that still runs for
	// abandoned.
	rescueMargin = 5 * time.Minute
	// maxAttempts bounds the attempts of one run job: a job rescued from
	// a killed node, or whose run could not start, is tried again.
	maxAttempts = 5
	// waitPoll is how often Enqueue with wait looks at its job.
	waitPoll = 200 * time.Millisecond
)

// Options configure a Cluster.
type Options struct {
	// DSN is the PostgreSQL database of the job queue.
	DSN string
	// Workers is how many run jobs this node works at once (at least 1).
	Workers int
	// JobTimeout and RescueAfter override serve.queue's settings when
	// > 0 (see configs.Queue).
	JobTimeout  time.Duration
	RescueAfter time.Duration
	// Logger receives the cluster's and River's logs; nil discards them.
	Logger *zap.Logger
	// Tune, when set, may change River's config before the client is
	// made: tests shorten its poll intervals there.
	Tune func(*river.Config)
}

// Cluster is one node's River client, the daemon.Queue of `serve
// --workers`. Make one with Open.
type Cluster struct {
	pool    *pgxpool.Pool
	client  *river.Client[pgx.Tx]
	log     *zap.Logger
	metrics *metrics

	mu      sync.Mutex
	d       *daemon.Daemon // set by Start
	started bool
	// scheds are the periodic schedules by sync (see catchUp).
	scheds map[string]*tickSchedule

	stopOnce sync.Once
	stopErr  error
}

var _ daemon.Queue = (*Cluster)(nil)

// Factory returns the daemon.QueueFactory that opens a Cluster on the
// daemon's config with opts, its DSN taken from the config
// (serve.queue.dsn, else state.dsn) when opts.DSN is empty.
func Factory(opts Options) daemon.QueueFactory {
	return func(ctx context.Context, cfg *configs.Config) (daemon.Queue, error) {
		return Open(ctx, cfg, opts)
	}
}

// Open connects to the queue's database, brings River's tables up to
// date and makes the node's River client; Start starts it.
func Open(ctx context.Context, cfg *configs.Config, opts Options) (*Cluster, error) {
	dsn := opts.DSN
	if dsn == "" {
		dsn = cfg.QueueDSN().Reveal()
	}
	if dsn == "" {
		return nil, &syncs.ConfigError{Err: fmt.Errorf("%s: serve --workers needs a PostgreSQL database for its job queue: "+
			"set state.dsn, or serve.queue.dsn, to a postgres:// URL (a ${env:…} or ${file:…} reference)", cfg.Path)}
	}
	if opts.Workers < 1 {
		return nil, fmt.Errorf("cluster: %d workers: run at least 1", opts.Workers)
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	timeout, rescue, err := timeouts(cfg, opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		// pgx's message may quote the DSN; ours does not.
		return nil, errors.New("cluster: the job queue's DSN does not parse: check serve.queue.dsn or state.dsn")
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	c := &Cluster{pool: pool, log: log, metrics: newMetrics(pool)}
	workers := river.NewWorkers()
	river.AddWorker(workers, &runWorker{c: c})
	rc := &river.Config{
		Queues:               map[string]river.QueueConfig{QueueName: {MaxWorkers: opts.Workers}},
		Workers:              workers,
		JobTimeout:           timeout,
		RescueStuckJobsAfter: rescue,
		MaxAttempts:          maxAttempts,
		Logger:               newSlog(log.Named("river")),
		Middleware:           []rivertype.Middleware{&skipRecorder{c: c}},
		Hooks:                []rivertype.Hook{river.HookPeriodicJobsStartFunc(c.elected)},
	}
	if opts.Tune != nil {
		opts.Tune(rc)
	}
	if c.client, err = river.NewClient(riverpgxv5.New(pool), rc); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cluster: make the River client: %w", err)
	}
	log.Info("job queue open", zap.String("client_id", c.client.ID()), zap.Int("workers", opts.Workers), zap.Duration("job_timeout", timeout), zap.Duration("rescue_after", rescue))
	return c, nil
}

// timeouts returns the job timeout and the rescue delay: the options',
// else the config's, else defaults from the syncs' run deadlines. A
// rescue delay set no longer than the timeout is refused: River would
// hand a job still running to another node.
func timeouts(cfg *configs.Config, opts Options) (timeout, rescue time.Duration, err error) {
	q := cfg.Serve.Queue
	timeout = cmpOr(opts.JobTimeout, q.JobTimeout)
	if timeout == 0 {
		longest := configs.Safety{}.RunDeadline()
		for _, sc := range cfg.Syncs {
			longest = max(longest, sc.Safety.RunDeadline())
		}
		timeout = longest + jobTimeoutMargin
	}
	rescue = cmpOr(opts.RescueAfter, q.RescueAfter)
	switch {
	case rescue == 0:
		rescue = timeout + rescueMargin
	case rescue <= timeout:
		return 0, 0, &syncs.ConfigError{Err: fmt.Errorf("%s: serve.queue.rescue_after %s must be longer than the job timeout %s "+
			"(serve.queue.job_timeout, else the longest safety.max_run_duration plus %s): raise rescue_after, or set job_timeout below it",
			cfg.Path, rescue, timeout, jobTimeoutMargin)}
	}
	return timeout, rescue, nil
}

func cmpOr(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

// migrateLock is the advisory lock key nodes take around River's
// migrations ("audsync" in ASCII).
const migrateLock int64 = 0x61756473796e63

// migrate brings River's tables up to date under a session advisory
// lock: nodes starting at once migrate one after the other, and the
// second finds nothing left to do. (River's migrations cannot share one
// transaction: one adds an enum value a later one uses.)
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("cluster: River migrations: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("cluster: connect to the job queue's database: %w: check that PostgreSQL runs and serve.queue.dsn or state.dsn points at it", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLock); err != nil {
		return fmt.Errorf("cluster: lock for River migrations: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLock) }()
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("cluster: run River migrations: %w", err)
	}
	return nil
}

// Start starts working jobs through d, and taking part in the election
// of the node that enqueues the ticks.
func (c *Cluster) Start(ctx context.Context, d *daemon.Daemon) error {
	c.mu.Lock()
	c.d = d
	c.mu.Unlock()
	// The client outlives the request that started it: Stop ends it.
	if err := c.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("cluster: start the River client: %w", err)
	}
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	return nil
}

func (c *Cluster) daemon() *daemon.Daemon {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.d
}

// Schedule replaces the periodic jobs with one per sync.
func (c *Cluster) Schedule(schedules map[string]*daemon.Schedule) error {
	periodic := make(map[string]river.PeriodicSchedule, len(schedules))
	for name, s := range schedules {
		periodic[name] = s
	}
	return c.schedule(periodic)
}

// schedule replaces the periodic jobs with one per sync on its schedule.
func (c *Cluster) schedule(schedules map[string]river.PeriodicSchedule) error {
	names := make([]string, 0, len(schedules))
	for name := range schedules {
		names = append(names, name)
	}
	slices.Sort(names)
	jobs := make([]*river.PeriodicJob, 0, len(names))
	scheds := make(map[string]*tickSchedule, len(names))
	for _, name := range names {
		scheds[name] = &tickSchedule{s: schedules[name]}
		jobs = append(jobs, river.NewPeriodicJob(scheds[name], func() (river.JobArgs, *river.InsertOpts) {
			return RunArgs{Sync: name, Trigger: "schedule"}, nil
		}, &river.PeriodicJobOpts{ID: "sync:" + name}))
	}
	c.mu.Lock()
	c.scheds = scheds
	c.mu.Unlock()
	pj := c.client.PeriodicJobs()
	pj.Clear()
	if _, err := pj.AddManySafely(jobs); err != nil {
		return fmt.Errorf("cluster: schedule the syncs: %w", err)
	}
	return nil
}

// Enqueue inserts a run job; see daemon.Queue.
func (c *Cluster) Enqueue(ctx context.Context, run daemon.QueuedRun, wait bool) (*report.Report, error) {
	args := RunArgs{Sync: run.Sync, Trigger: run.Trigger, StartedBy: run.Options.StartedBy,
		FullRefresh: run.Options.FullRefresh, Force: run.Options.Force}
	res, err := c.client.Insert(ctx, args, nil)
	if err != nil {
		return nil, fmt.Errorf("queue a run of sync %s: %w", run.Sync, err)
	}
	if res.UniqueSkippedAsDuplicate {
		return nil, fmt.Errorf("sync %s has a run %s in the cluster already (job %d): let it finish, then run again: %w",
			run.Sync, res.Job.State, res.Job.ID, syncs.ErrBusy)
	}
	if !wait {
		return nil, nil
	}
	return c.wait(ctx, res.Job.ID, run.Sync, run.Options.Observer)
}

// wait polls job id until it is finalised and returns its run's report.
// obs, when set, gets a RunStarted as soon as the job names its run: the
// run's own events stay on the node that runs it.
func (c *Cluster) wait(ctx context.Context, id int64, sync string, obs engine.Observer) (*report.Report, error) {
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	announced := false
	for {
		job, err := c.client.JobGet(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("look up the run job %d of sync %s: %w", id, sync, err)
		}
		var out jobOutput
		if raw := job.Output(); !announced && obs != nil && len(raw) > 0 && json.Unmarshal(raw, &out) == nil && out.RunID != "" {
			// Also for a run over before this look: as in one process, a
			// run that was recorded has announced itself before it ends.
			announced = true
			obs.Observe(engine.RunStarted{Run: engine.RunRef{ID: out.RunID, Sync: sync}, StartedAt: time.Now().UTC()})
		}
		if job.FinalizedAt != nil {
			return c.outcome(ctx, job, sync)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the run job %d of sync %s (it carries on in the cluster): %w", id, sync, ctx.Err())
		case <-tick.C:
		}
	}
}

// outcome is what a finalised job's run came to: its report from the
// state store, or why no run took place.
func (c *Cluster) outcome(ctx context.Context, job *rivertype.JobRow, sync string) (*report.Report, error) {
	var out jobOutput
	if raw := job.Output(); len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, fmt.Errorf("decode the output of run job %d: %w", job.ID, err)
		}
	}
	if out.RunID != "" {
		rep, err := c.daemon().Service().Report(ctx, out.RunID)
		if err != nil {
			return nil, err
		}
		if rep.Status != report.StatusSucceeded {
			return rep, fmt.Errorf("run %s of sync %s ended %s: %s", rep.RunID, sync, rep.Status, rep.Error)
		}
		return rep, nil
	}
	why := "no run took place"
	if n := len(job.Errors); n > 0 {
		why = job.Errors[n-1].Error
	}
	err := fmt.Errorf("run job %d of sync %s ended %s: %s", job.ID, sync, job.State, why)
	if out.Busy {
		err = fmt.Errorf("%w: %w", err, syncs.ErrBusy)
	}
	return nil, err
}

// Stop stops the River client: no more jobs are fetched, and Stop returns
// once the jobs in progress have returned. It closes the connection pool;
// later calls return the first result.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		started := c.started
		c.mu.Unlock()
		if started {
			// Not under c.mu: the jobs Stop waits for look up the daemon.
			if err := c.client.Stop(ctx); err != nil {
				c.stopErr = fmt.Errorf("cluster: stop the River client: %w", err)
			}
		}
		c.pool.Close()
	})
	return c.stopErr
}

// Collector exports the queue's depth and its jobs' latency.
func (c *Cluster) Collector() prometheus.Collector { return c.metrics }
