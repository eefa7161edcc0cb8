// Package daemon is `audiencesync serve`: a scheduler that runs every
// sync on its schedule through the service layer, and the HTTP server
// beside it (/healthz, /readyz, /metrics, the JSON API under /api/v1 and
// the web UI at /).
//
// Scheduling. Each sync with a schedule: (five cron fields or a
// descriptor such as @hourly or @every 10m, read in the sync's
// timezone:) is a gocron job. Every tick is shifted by the sync's jitter,
// a fixed offset derived from its name (at most serve.max_jitter and a
// tenth of the time between ticks), so syncs due at the same moment start
// spread out. A tick of a sync still running, here or in another process
// on the same state, is skipped, logged "skipped: still running" and
// recorded in the run log as a run with status skipped; runs
// in progress across syncs are capped at serve.max_concurrent_runs, a
// tick beyond the cap waiting for a slot. At start, a sync whose schedule
// had a tick since its last recorded run (the daemon was down, or killed
// mid-run) runs once (serve.catch_up: once, the default; none waits for
// the next tick). With a Queue the node elected to enqueue the ticks
// catches up instead, when it is elected.
//
// Life cycle. Run serves until its context ends (SIGTERM or SIGINT in
// `serve`), then stops scheduling, lets runs in progress finish for the
// grace period and then cancels them: the engine has committed every
// acknowledged batch, so state is exact or behind, and the next run
// converges. Reload (SIGHUP, or the API) loads the config again; one that
// fails to load or validate is refused and the old one keeps running.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// DefaultGrace is how long runs in progress may finish after a stop
// signal when Options.Grace is 0.
const DefaultGrace = 30 * time.Second

// APIDeps is what the daemon hands the JSON API: the service of the
// config in force, and the daemon's own trigger, reload and next-run
// look-up, so that API-triggered runs share the concurrency cap and the
// overlap check with scheduled ones.
type APIDeps struct {
	Service *syncs.Service
	Logger  *zap.Logger
	Trigger func(ctx context.Context, sync string, opts syncs.RunOptions) (*report.Report, error)
	Reload  func(ctx context.Context) error
	NextRun func(sync string) (time.Time, bool)
}

// APIFactory builds the /api/v1 handler. The daemon calls it at start and
// again after each reload, with the new config's service.
type APIFactory func(APIDeps) http.Handler

// Options configure a Daemon.
type Options struct {
	// Open opens the service layer on the config; Reload calls it again.
	Open func(ctx context.Context) (*syncs.Service, error)
	// Logger receives the daemon's logs; nil discards them.
	Logger *zap.Logger
	// Clock drives the scheduler; nil means the real clock. Tests pass a
	// clockwork.FakeClock.
	Clock clockwork.Clock
	// Grace is how long runs in progress may finish once Run's context
	// ends (DefaultGrace when 0).
	Grace time.Duration
	// MaxConcurrentRuns overrides serve.max_concurrent_runs when > 0.
	MaxConcurrentRuns int
	// API builds the /api/v1 handler; nil serves none there.
	API APIFactory
	// Web builds the web UI's handler, served at / (every path the other
	// handlers leave); nil serves none. Like API it is built again on
	// each reload, with the same dependencies.
	Web APIFactory
	// Observer also receives every run's events (tests).
	Observer engine.Observer
	// Alerts sends the failure alerts; nil means a Sender with defaults.
	Alerts *Sender
	// StaleCheckEvery is how often syncs are checked against their
	// alerts.stale_after (default every minute).
	StaleCheckEvery time.Duration
	// Queue, when set, opens the job queue that schedules and runs the
	// syncs instead of the in-process scheduler (`serve --workers`):
	// several daemons on one queue share the syncs. The concurrency cap
	// then counts the runs of this daemon only.
	Queue QueueFactory
}

// Daemon runs syncs on their schedules and serves HTTP. Make one with New.
type Daemon struct {
	opts    Options
	log     *zap.Logger
	clock   clockwork.Clock
	metrics *metrics
	alerts  *Sender
	started time.Time

	// runCtx is the context runs get: it ends grace after Run's.
	runCtx    context.Context
	cancelRun context.CancelFunc
	runs      sync.WaitGroup
	// closing counts the replaced configs' services still to close:
	// shutdown waits for them, so the process never exits with a store
	// open.
	closing sync.WaitGroup

	mu       sync.Mutex
	gen      *generation
	sched    gocron.Scheduler
	schedule map[string]*scheduled
	busy     map[string]bool // syncs running or waiting for a slot
	slots    chan struct{}
	stopping bool
	stale    map[string]bool // syncs alerted as stale since their last success

	api   atomic.Pointer[http.Handler]
	web   atomic.Pointer[http.Handler]
	ready atomic.Bool

	queue Queue // nil: the in-process scheduler starts the runs
}

// generation is one loaded config's service, closed once the config was
// replaced and its last run has returned.
type generation struct {
	svc  *syncs.Service
	cfg  *configs.Config
	runs sync.WaitGroup
}

// scheduled is one sync's job.
type scheduled struct {
	sched *Schedule
	job   gocron.Job // nil when a Queue enqueues the ticks
}

// New opens the service and prepares the scheduler; Run starts both.
func New(ctx context.Context, opts Options) (*Daemon, error) {
	if opts.Open == nil {
		return nil, errors.New("daemon: Options.Open is required")
	}
	d := &Daemon{opts: opts, log: opts.Logger, clock: opts.Clock, metrics: newMetrics(), alerts: opts.Alerts,
		busy: map[string]bool{}, stale: map[string]bool{}}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	if d.clock == nil {
		d.clock = clockwork.NewRealClock()
	}
	if d.alerts == nil {
		d.alerts = &Sender{}
	}
	if d.alerts.Logger == nil {
		d.alerts.Logger = d.log
	}
	d.started = d.clock.Now()
	d.runCtx, d.cancelRun = context.WithCancel(context.WithoutCancel(ctx))
	svc, err := opts.Open(ctx)
	if err != nil {
		return nil, err
	}
	sched, err := gocron.NewScheduler(gocron.WithClock(d.clock), gocron.WithLocation(time.UTC))
	if err != nil {
		_ = svc.Close()
		return nil, fmt.Errorf("start the scheduler: %w", err)
	}
	d.sched = sched
	if opts.Queue != nil {
		if d.queue, err = opts.Queue(ctx, svc.Config()); err != nil {
			_ = svc.Close()
			_ = sched.Shutdown()
			return nil, err
		}
		d.metrics.reg.MustRegister(d.queue.Collector())
	}
	if err := d.install(svc); err != nil {
		_ = svc.Close()
		_ = sched.Shutdown()
		if d.queue != nil {
			_ = d.queue.Stop(ctx)
		}
		return nil, err
	}
	return d, nil
}

// install makes svc's config the one in force: it schedules its syncs,
// replacing the jobs of the previous config, and builds the API on it.
// The previous service is closed once its runs have returned.
func (d *Daemon) install(svc *syncs.Service) error {
	cfg := svc.Config()
	now := d.clock.Now()
	next := make(map[string]*scheduled)
	for _, sc := range cfg.Syncs {
		if sc.Schedule == "" {
			continue
		}
		s, err := newSchedule(sc, cfg.Serve.JitterBound(), now)
		if err != nil {
			return err
		}
		next[sc.Name] = &scheduled{sched: s}
	}
	limit := cfg.Serve.Concurrency()
	if d.opts.MaxConcurrentRuns > 0 {
		limit = d.opts.MaxConcurrentRuns
	}

	if d.queue != nil {
		// The queue's leader enqueues the ticks; this daemon only works
		// jobs.
		sched := make(map[string]*Schedule, len(next))
		for name, s := range next {
			sched[name] = s.sched
		}
		if err := d.queue.Schedule(sched); err != nil {
			return fmt.Errorf("schedule the syncs on the job queue: %w", err)
		}
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	for name, s := range next {
		if d.queue != nil {
			break
		}
		name := name
		job, err := d.sched.NewJob(gocron.CronJob(s.sched.expr, false),
			gocron.NewTask(func() { d.tick(name) }),
			gocron.WithName(name), gocron.WithCronImplementation(s.sched))
		if err != nil {
			for _, s := range next {
				if s.job != nil {
					_ = d.sched.RemoveJob(s.job.ID())
				}
			}
			return fmt.Errorf("schedule sync %s: %w", name, err)
		}
		s.job = job
	}
	for _, s := range d.schedule {
		if s.job != nil {
			_ = d.sched.RemoveJob(s.job.ID())
		}
	}
	d.schedule = next
	if d.slots == nil || cap(d.slots) != limit {
		// Runs holding a slot of the old channel give it back there: the
		// new cap counts the runs started from now on.
		d.slots = make(chan struct{}, limit)
	}
	old := d.gen
	d.gen = &generation{svc: svc, cfg: cfg}
	if old != nil {
		d.closing.Add(1)
		go func() {
			defer d.closing.Done()
			old.runs.Wait()
			if err := old.svc.Close(); err != nil {
				d.log.Warn("close the replaced config's service", zap.Error(err))
			}
		}()
	}
	deps := APIDeps{Service: svc, Logger: d.log, Trigger: d.Trigger, Reload: d.Reload, NextRun: d.NextRun}
	if d.opts.API != nil {
		h := d.opts.API(deps)
		d.api.Store(&h)
	}
	if d.opts.Web != nil {
		h := d.opts.Web(deps)
		d.web.Store(&h)
	}
	return nil
}

// NextRun returns when the sync runs next on its schedule, jitter
// included; false for a sync without a schedule (or unknown).
func (d *Daemon) NextRun(sync string) (time.Time, bool) {
	d.mu.Lock()
	s, ok := d.schedule[sync]
	d.mu.Unlock()
	if !ok {
		return time.Time{}, false
	}
	var t time.Time
	var err error
	if s.job != nil {
		t, err = s.job.NextRun()
	}
	if s.job == nil || err != nil || t.IsZero() {
		// Before the scheduler starts, gocron knows no next run yet.
		t = s.sched.Next(d.clock.Now())
	}
	return t.UTC(), !t.IsZero()
}

// Service returns the service of the config in force.
func (d *Daemon) Service() *syncs.Service {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gen.svc
}

// Reload loads the config again and puts it in force. A config that fails
// to load or validate is refused: the error is logged and returned, and
// the one in force keeps running. Runs in progress finish on the config
// they started with.
func (d *Daemon) Reload(ctx context.Context) error {
	svc, err := d.opts.Open(ctx)
	if err != nil {
		d.log.Error("reload refused: the config in force keeps running", zap.Error(err))
		return fmt.Errorf("reload refused, the config in force keeps running: %w", err)
	}
	if err := d.install(svc); err != nil {
		_ = svc.Close()
		d.log.Error("reload refused: the config in force keeps running", zap.Error(err))
		return fmt.Errorf("reload refused, the config in force keeps running: %w", err)
	}
	d.log.Info("config reloaded", zap.Int("syncs", len(svc.Config().Syncs)))
	return nil
}

// ErrStopping is returned by Trigger once the daemon is shutting down.
var ErrStopping = errors.New("the daemon is shutting down: no new runs start")

// Trigger runs the sync now, through the same overlap check and
// concurrency cap as scheduled runs: a sync already running (or waiting
// for a slot) in this daemon fails at once with an error matching
// syncs.ErrBusy, as does one running in another process.
//
// The run ends with ctx, and like scheduled runs is cancelled when the
// grace period after a stop is over. The run log records opts.StartedBy
// as who started it ("api:NAME", "web:NAME"), or "api" when it is empty.
func (d *Daemon) Trigger(ctx context.Context, sync string, opts syncs.RunOptions) (*report.Report, error) {
	ctx, done, err := d.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	if d.queue != nil {
		// Whichever daemon takes the job runs it; the observer hears
		// only its RunStarted, from the job.
		return d.enqueue(ctx, QueuedRun{Sync: sync, Trigger: "api", Options: opts}, true)
	}
	return d.run(ctx, sync, "api", opts, false)
}

// enter counts a run the caller asked for (see shutdown) and binds its
// context to the grace period; ErrStopping once the daemon stops. done
// ends both.
func (d *Daemon) enter(ctx context.Context) (context.Context, func(), error) {
	d.mu.Lock()
	if d.stopping {
		d.mu.Unlock()
		return nil, nil, ErrStopping
	}
	d.runs.Add(1)
	d.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.runCtx, cancel)
	return ctx, func() {
		stop()
		cancel()
		d.runs.Done()
	}, nil
}

// tick is a scheduled tick of sync: the run goes on in the background,
// so that stopping the scheduler never waits for a run.
func (d *Daemon) tick(sync string) {
	d.background(sync, "schedule")
}

func (d *Daemon) background(sync, trigger string) {
	d.mu.Lock()
	if d.stopping {
		d.mu.Unlock()
		return
	}
	d.runs.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.runs.Done()
		if d.queue != nil {
			_, _ = d.enqueue(d.runCtx, QueuedRun{Sync: sync, Trigger: trigger}, false)
			return
		}
		_, _ = d.run(d.runCtx, sync, trigger, syncs.RunOptions{}, true)
	}()
}

// run runs one sync: the overlap check, a slot, the run, its metrics and
// its alert. recordSkip says whether finding the sync busy is a skipped
// tick to count and record (see skipped).
func (d *Daemon) run(ctx context.Context, sync, trigger string, opts syncs.RunOptions, recordSkip bool) (*report.Report, error) {
	log := d.log.With(zap.String("sync", sync), zap.String("trigger", trigger))
	d.mu.Lock()
	switch {
	case d.stopping:
		d.mu.Unlock()
		return nil, ErrStopping
	case d.busy[sync]:
		g := d.gen
		d.mu.Unlock()
		log.Info("skipped: still running")
		d.skipped(ctx, g, sync, trigger, "skipped: the previous run of this sync was still running (or waiting for a run slot) in this daemon; the next tick runs it again", recordSkip)
		return nil, fmt.Errorf("sync %s is already running in this daemon: let it finish: %w", sync, syncs.ErrBusy)
	}
	d.busy[sync] = true
	slots := d.slots
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.busy, sync)
		d.mu.Unlock()
		log.Debug("run returned")
	}()

	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a run slot for sync %s: %w", sync, ctx.Err())
	}
	defer func() { <-slots }()

	d.mu.Lock()
	g := d.gen
	g.runs.Add(1)
	d.mu.Unlock()
	defer g.runs.Done()

	// The run log records what started the run: the caller's words (the
	// API's and the web UI's name the token), else the trigger.
	if opts.StartedBy == "" {
		opts.StartedBy = trigger
	}
	opts.Observer = engine.Fanout(d.metrics, d.opts.Observer, opts.Observer)
	rep, err := g.svc.Run(ctx, sync, opts)
	switch {
	case errors.Is(err, syncs.ErrBusy):
		log.Info("skipped: still running", zap.String("where", "another process"), zap.Error(err))
		d.skipped(ctx, g, sync, trigger, "skipped: "+err.Error(), recordSkip)
		return nil, err
	case rep == nil:
		log.Error("run did not start", zap.Error(err))
		return nil, err
	}
	d.metrics.finished(rep)
	if rep.Status == report.StatusSucceeded {
		d.mu.Lock()
		delete(d.stale, sync)
		d.mu.Unlock()
	}
	if a := alertFor(rep); a != nil {
		d.alert(g, sync, a)
	}
	return rep, err
}

// skipped counts a tick (of the schedule, or the catch-up at start)
// skipped because sync was still running, and records it in the run log
// as a skipped run saying why, when record is set. A run asked for
// through the API is refused to its caller (409) instead, and a queued
// job retried waits for the sync: neither is counted nor recorded.
func (d *Daemon) skipped(ctx context.Context, g *generation, sync, trigger, reason string, record bool) {
	if !record {
		return
	}
	d.metrics.skipped(sync)
	id, err := g.svc.RecordSkipped(context.WithoutCancel(ctx), sync, reason, trigger)
	if err != nil {
		d.log.Warn("the skipped tick was not recorded in the run log", zap.String("sync", sync), zap.Error(err))
		return
	}
	d.log.Info("skipped tick recorded", zap.String("sync", sync), zap.String("run_id", id))
}

// alert sends a in the background to the sync's webhook, if it has one.
func (d *Daemon) alert(g *generation, sync string, a *Alert) {
	sc := g.cfg.Sync(sync)
	if sc == nil {
		return
	}
	hook := g.cfg.SyncAlerts(sc).Webhook
	if hook.IsZero() {
		return
	}
	d.runs.Add(1)
	go func() {
		defer d.runs.Done()
		if err := d.alerts.Send(d.runCtx, hook.Reveal(), a); err != nil {
			d.log.Error("alert not sent", zap.String("sync", sync), zap.String("reason", a.Reason), zap.Error(err))
			return
		}
		d.log.Info("alert sent", zap.String("sync", sync), zap.String("reason", a.Reason), zap.String("run_id", a.RunID))
	}()
}

// staleEvery is how often the daemon looks for syncs without a recent
// success, unless Options.StaleCheckEvery says otherwise.
const staleEvery = time.Minute

// checkStale alerts, once per episode, for each sync whose last success
// (or the daemon's start, when it has none) is older than its
// alerts.stale_after.
func (d *Daemon) checkStale(ctx context.Context) {
	d.mu.Lock()
	g := d.gen
	d.mu.Unlock()
	now := d.clock.Now()
	for _, sc := range g.cfg.Syncs {
		al := g.cfg.SyncAlerts(sc)
		if al.StaleAfter <= 0 || al.Webhook.IsZero() {
			continue
		}
		d.mu.Lock()
		done := d.stale[sc.Name]
		d.mu.Unlock()
		if done {
			continue
		}
		last, err := lastSuccess(ctx, g.svc, sc.Name)
		if err != nil {
			d.log.Warn("stale check: list runs", zap.String("sync", sc.Name), zap.Error(err))
			continue
		}
		since := last
		if since.IsZero() {
			since = d.started // never succeeded: count from the start
		}
		if now.Sub(since) < al.StaleAfter {
			continue
		}
		d.mu.Lock()
		d.stale[sc.Name] = true
		d.mu.Unlock()
		d.alert(g, sc.Name, staleAlert(sc.Name, last, al.StaleAfter))
	}
}

// lastSuccess is when a run of sync last succeeded; zero if none did.
func lastSuccess(ctx context.Context, svc *syncs.Service, sync string) (time.Time, error) {
	runs, err := svc.ListRuns(ctx, state.RunFilter{Sync: sync, Statuses: []string{string(report.StatusSucceeded)}, Limit: 1})
	if err != nil || len(runs) == 0 {
		return time.Time{}, err
	}
	return runs[0].Finished, nil
}

// catchUp runs once each sync whose schedule had a tick since its last
// recorded run, under serve.catch_up: once. With a Queue it does
// nothing: the node elected to enqueue the ticks catches up when it is
// elected (package cluster), against the queue's jobs as well as the run
// log, so that nodes starting while a leader enqueues every tick do not
// queue runs of their own.
func (d *Daemon) catchUp(ctx context.Context) {
	d.mu.Lock()
	g, sched := d.gen, d.schedule
	d.mu.Unlock()
	if d.queue != nil || g.cfg.Serve.CatchUpPolicy() != configs.CatchUpOnce {
		return
	}
	now := d.clock.Now()
	for name, s := range sched {
		// The last run that ran: a skipped tick recorded after a run a
		// crash interrupted must not hide that run's missed ticks.
		runs, err := g.svc.ListRuns(ctx, state.RunFilter{Sync: name, Statuses: syncs.RanStatuses(), Limit: 1})
		if err != nil {
			d.log.Warn("catch-up: list runs", zap.String("sync", name), zap.Error(err))
			continue
		}
		if len(runs) == 0 || !s.sched.missed(runs[0].Started, now) {
			continue
		}
		d.log.Info("catch-up: a tick was missed since the last run: running now", zap.String("sync", name),
			zap.Time("last_run", runs[0].Started), zap.Bool("last_run_interrupted", runs[0].Interrupted))
		d.background(name, "catch-up")
	}
}

// Handler serves /healthz, /readyz, /metrics and, when their factories
// were given, the API under /api/v1/ and the web UI at every other path.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", d.readyz)
	mux.Handle("GET /metrics", d.metrics.handler())
	mux.Handle("/api/v1/", current(&d.api))
	mux.Handle("/", current(&d.web))
	return mux
}

// current serves with the handler h holds at the time of each request
// (the one built on the config in force), or 404 when there is none.
func current(h *atomic.Pointer[http.Handler]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := h.Load()
		if cur == nil {
			http.NotFound(w, r)
			return
		}
		(*cur).ServeHTTP(w, r)
	})
}

// readyTimeout bounds the store check of /readyz.
const readyTimeout = 2 * time.Second

// readyz answers 200 when a config is loaded, the scheduler runs and the
// state store answers; 503 with the reason otherwise.
func (d *Daemon) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !d.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: starting or shutting down\n"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if _, err := d.Service().Runs(ctx, "", 1); err != nil {
		d.log.Warn("readyz: the state store does not answer", zap.Error(err))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: the state store does not answer\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Run serves HTTP on ln and runs the scheduler until ctx ends, then shuts
// down: scheduling stops, runs in progress get the grace period, then are
// cancelled, and Run returns once they have returned. The listener is
// closed on return.
func (d *Daemon) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	d.log.Info("serving", zap.String("addr", ln.Addr().String()))

	if d.queue != nil {
		if err := d.queue.Start(ctx, d); err != nil {
			_ = srv.Close()
			return errors.Join(fmt.Errorf("start the job queue: %w", err), d.shutdown(srv))
		}
	}
	d.ready.Store(true)
	d.sched.Start()
	if _, err := d.sched.NewJob(gocron.DurationJob(cmp.Or(d.opts.StaleCheckEvery, staleEvery)), gocron.NewTask(func() { d.checkStale(d.runCtx) }),
		gocron.WithName("stale-check")); err != nil {
		d.log.Warn("stale check not scheduled", zap.Error(err))
	}
	d.catchUp(ctx)
	for name := range d.schedules() {
		if t, ok := d.NextRun(name); ok {
			d.log.Info("scheduled", zap.String("sync", name), zap.Time("next_run", t))
		}
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
		d.log.Error("the HTTP server stopped", zap.Error(serveErr))
	}
	return errors.Join(serveErr, d.shutdown(srv))
}

func (d *Daemon) schedules() map[string]*scheduled {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.schedule
}

func (d *Daemon) shutdown(srv *http.Server) error {
	d.ready.Store(false)
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	var errs []error
	if err := d.sched.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("stop the scheduler: %w", err))
	}
	grace := d.opts.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	queueStopped := make(chan error, 1)
	if d.queue != nil {
		// The queue stops taking jobs at once and returns when the jobs
		// in progress have: the runs below, which the grace period bounds.
		go func() { queueStopped <- d.queue.Stop(context.WithoutCancel(d.runCtx)) }()
	} else {
		queueStopped <- nil
	}
	done := make(chan struct{})
	go func() { d.runs.Wait(); close(done) }()
	d.log.Info("stopping: no new runs; waiting for runs in progress", zap.Duration("grace", grace))
	select {
	case <-done:
	case <-d.clock.After(grace):
		d.log.Warn("grace period over: cancelling runs in progress (what the platforms acknowledged is committed; the next run carries on)")
		d.cancelRun()
		<-done
	}
	d.cancelRun()
	if err := <-queueStopped; err != nil {
		errs = append(errs, fmt.Errorf("stop the job queue: %w", err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop the HTTP server: %w", err))
	}
	d.mu.Lock()
	g := d.gen
	d.mu.Unlock()
	g.runs.Wait()
	if err := g.svc.Close(); err != nil {
		errs = append(errs, err)
	}
	d.closing.Wait()
	d.log.Info("stopped")
	return errors.Join(errs...)
}
