// Package syncs is the service layer: what the command line calls today
// and the scheduler, the JSON API, the web UI and River workers will call
// next. A Service owns what running a sync takes besides the engine: the
// loaded configuration and the connector registry it was resolved
// against, the state store, connector construction (the translation of a
// configured sync into the engine's neutral job description), the
// in-process sandbox behind `sandbox: true` connections, and a per-sync
// lock.
//
// Life cycle: Open loads the config; the state store is opened on first
// use and the sandbox started on first use; Close releases both and may
// be called more than once. Every call takes a context.
//
// The per-sync lock. Run holds a lock on the sync (state.Locker, kept in
// the state store so it works across processes) for the whole run, and
// renews it every third of Options.LockTTL. A second Run of the same sync,
// in this process or another one on the same state, waits for the lock up
// to RunOptions.Wait and then fails with a *BusyError naming the holder.
// A lock whose holder died without releasing it (kill -9, power loss)
// expires LockTTL after its last renewal and the next run takes it over;
// the run the dead holder left "running" is listed as interrupted. A run
// that loses its lock (its renewals failed for longer than LockTTL and
// another run took over) is cancelled: what it had committed stays, and
// nothing more is sent.
package syncs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/builtin"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/postgres"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// DefaultLockTTL is how long a sync's lock outlives its holder's last
// renewal when Options.LockTTL is 0.
const DefaultLockTTL = time.Minute

// Options configure a Service.
type Options struct {
	// ConfigPath is the config file to load.
	ConfigPath string
	// SkipSecrets loads the config without resolving ${env:…} and
	// ${file:…} secrets: enough to validate its shape and to list syncs,
	// runs and reports, not to run a sync.
	SkipSecrets bool
	// CheckFiles checks that the local files connections read (a CSV
	// source's path) exist and can be read, as `validate` does.
	CheckFiles bool
	// LookupEnv resolves ${env:…} secrets; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Registry resolves connection types; nil means builtin.Registry().
	Registry *connectors.Registry
	// Logger receives the service's, the engine's and the connectors'
	// logs; nil discards them.
	Logger *zap.Logger
	// Now is the clock of runs, locks and connectors; nil means time.Now.
	Now func() time.Time
	// LockTTL is how long a sync's lock lasts without renewal
	// (DefaultLockTTL when 0): how long a crashed run blocks the next.
	LockTTL time.Duration
	// PlanWorkers is how many goroutines prepare members for a run, for
	// all its destinations together (engine.Engine.PlanWorkers; 0: one
	// per CPU). The daemon leaves a CPU to its API (ServePlanWorkers).
	PlanWorkers int
}

// ServePlanWorkers is Options.PlanWorkers for `serve` on cpus CPUs (see
// ServeCPUs): one per CPU but one, so that a large run's planning, which
// keeps every worker busy, leaves a CPU for the API and the scheduler
// beside it.
func ServePlanWorkers(cpus int) int { return max(1, cpus-1) }

// ServeProcsPerCPU is how many Go processors (GOMAXPROCS) `serve` runs per
// CPU, at least ServeMinProcs in all.
const (
	ServeProcsPerCPU = 8
	ServeMinProcs    = 16
)

// ServeCPUs readies the process for `serve` and returns how many CPUs it
// has: the runtime's own choice of GOMAXPROCS (the machine's CPUs, or a
// container's CPU limit). Unless GOMAXPROCS is set in the environment,
// it then raises GOMAXPROCS to ServeProcsPerCPU per CPU (at least
// ServeMinProcs). A run's CPU-bound goroutines (planning workers, the
// reader, uploads, commits) outnumber the CPUs, and with one processor
// per CPU a request to the API waited in Go's run queue behind them, up
// to a 10 ms time slice each: p99 127–168 ms at 200 requests a second
// beside a 1M-member sync on 2 CPUs (BenchmarkAPIUnderLoad). With spare
// processors a request's goroutine runs at once on a thread of its own,
// and the kernel, which favours threads that were waiting, gives it a
// CPU within about a millisecond: p99 28–49 ms on the same machine. How
// much work a run does at once is bounded by CPUs, not processors
// (ServePlanWorkers), so the run's throughput stays what it was. Call it
// once, before starting anything.
func ServeCPUs() int {
	cpus := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(max(ServeMinProcs, ServeProcsPerCPU*cpus))
	}
	return cpus
}

// Service runs the syncs of one configuration against its state store.
// It is safe for concurrent use.
type Service struct {
	cfg     *configs.Config
	reg     *connectors.Registry
	log     *zap.Logger
	clock   func() time.Time // as given: nil leaves the engine's default
	lockTTL time.Duration
	workers int
	sandbox *sandboxHost
	// lookupEnv resolves state.dsn when the config was loaded without
	// its secrets (Options.SkipSecrets): the store still needs it.
	lookupEnv func(string) (string, bool)

	// Lock owners are id-N: one owner per Run call, so that two runs in
	// this process contend like runs in two processes.
	id     string
	runSeq atomic.Uint64
	pid    int
	pidNS  string // "" where a holder's pid cannot be checked
	host   string

	mu     sync.Mutex
	store  state.Store
	locker state.Locker
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// ErrNotFound is matched (errors.Is) by the errors for a sync, connection
// or run that does not exist.
var ErrNotFound = errors.New("not found")

// notFound is an error matching ErrNotFound whose message is its own.
type notFound string

func (e notFound) Error() string        { return string(e) }
func (e notFound) Is(target error) bool { return target == ErrNotFound }

// ErrClosed is returned by calls on a closed Service.
var ErrClosed = errors.New("syncs: the service is closed")

// ConfigError is a config that cannot be loaded or used: the message says
// what to fix in the file.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Open loads and validates the config at opts.ConfigPath. It does not
// touch the state store or the network.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	reg := opts.Registry
	if reg == nil {
		reg = builtin.Registry()
	}
	cfg, err := configs.Load(opts.ConfigPath, reg, configs.LoadOptions{LookupEnv: opts.LookupEnv, SkipSecrets: opts.SkipSecrets, CheckFiles: opts.CheckFiles})
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	s := &Service{
		cfg:       cfg,
		reg:       reg,
		log:       log,
		clock:     opts.Now,
		lockTTL:   cmpOr(opts.LockTTL, DefaultLockTTL),
		workers:   opts.PlanWorkers,
		lookupEnv: opts.LookupEnv,
		id:        hex.EncodeToString(id[:]),
		pid:       os.Getpid(),
		pidNS:     pidNamespace(),
		host:      host,
	}
	s.sandbox = &sandboxHost{statePath: sandboxStatePath(cfg), log: log}
	return s, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Close stops the in-process sandbox, if it runs, and closes the state
// store. Runs still in progress must have returned. Calling Close again
// returns the first result.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		st := s.store
		s.mu.Unlock()
		var errs []error
		if err := s.sandbox.close(); err != nil {
			errs = append(errs, fmt.Errorf("stop the in-process sandbox: %w", err))
		}
		if st != nil {
			errs = append(errs, st.Close())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Service) now() time.Time {
	if s.clock != nil {
		return s.clock().UTC()
	}
	return time.Now().UTC()
}

// Config returns the loaded configuration. Callers must not change it.
func (s *Service) Config() *configs.Config { return s.cfg }

// Registry returns the registry the config was resolved against.
func (s *Service) Registry() *connectors.Registry { return s.reg }

// Sync describes one configured sync.
type Sync struct {
	Name string
	// Schedule is the sync's cron expression; "" runs only on demand.
	Schedule string
	// Source is the source connection's name.
	Source string
	// Destinations are the destinations' names, in config order.
	Destinations []string
}

// Syncs lists the configured syncs in config order.
func (s *Service) Syncs() []Sync {
	out := make([]Sync, 0, len(s.cfg.Syncs))
	for _, sc := range s.cfg.Syncs {
		var d []string
		for _, dst := range sc.Targets() {
			d = append(d, dst.Name)
		}
		out = append(out, Sync{Name: sc.Name, Schedule: sc.Schedule, Source: sc.Source.Connection, Destinations: d})
	}
	return out
}

// Connections lists the configured connection names, sorted.
func (s *Service) Connections() []string {
	out := make([]string, 0, len(s.cfg.Connections))
	for name := range s.cfg.Connections {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (s *Service) sync(name string) (*configs.Sync, error) {
	if sc := s.cfg.Sync(name); sc != nil {
		return sc, nil
	}
	names := make([]string, 0, len(s.cfg.Syncs))
	for _, sc := range s.cfg.Syncs {
		names = append(names, sc.Name)
	}
	return nil, notFound(fmt.Sprintf("no sync named %q in %s (syncs: %s)", name, s.cfg.Path, strings.Join(names, ", ")))
}

// stores returns the state store and its locker, opening the store on
// first use.
func (s *Service) stores(ctx context.Context) (state.Store, state.Locker, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	if s.store != nil {
		return s.store, s.locker, nil
	}
	st, err := s.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	s.store, s.locker = st, st
	return s.store, s.locker, nil
}

// Store returns the state store, opening it on first use; the service
// keeps owning it (Close closes it). Code that shares the store's
// database reaches what a backend offers beyond state.Store by type
// assertion: the PostgreSQL store's connection pool, for one, with
// interface{ Pool() *pgxpool.Pool }.
func (s *Service) Store(ctx context.Context) (state.Store, error) {
	st, _, err := s.stores(ctx)
	return st, err
}

// openStore opens the configured store: PostgreSQL when state.dsn is set,
// else the SQLite file at state.path (configs.Load refuses a config with
// both).
func (s *Service) openStore(ctx context.Context) (state.Store, error) {
	if dsn := &s.cfg.State.DSN; !dsn.IsZero() {
		// Resolved in place, under s.mu, so that stateWhere names it.
		if !dsn.Resolved() {
			if err := dsn.Resolve(s.cfg.BaseDir, s.lookupEnv); err != nil {
				return nil, &ConfigError{Err: fmt.Errorf("state dsn %s: %w", dsn.Ref(), err)}
			}
		}
		// postgres.Open's errors name the server without the password.
		st, err := postgres.Open(ctx, dsn.Reveal(), postgres.Options{})
		if err != nil {
			return nil, fmt.Errorf("open state (state.dsn %s): %w", dsn.Ref(), err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, s.cfg.State.Path)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", s.cfg.State.Path, err)
	}
	return st, nil
}

// stateWhere names the state store for messages: the SQLite file, or the
// PostgreSQL server and database without the password.
func (s *Service) stateWhere() string {
	if dsn := s.cfg.State.DSN; !dsn.IsZero() {
		return postgres.Redact(dsn.Reveal())
	}
	return s.cfg.State.Path
}

// RunOptions change how Run and Plan behave.
type RunOptions struct {
	// FullRefresh re-sends every member (see engine.Options).
	FullRefresh bool
	// Force lets the run pass the removal guard.
	Force bool
	// Adopt lets the run take over a remote audience that already holds
	// members while state has no record of it (a new or lost state file);
	// without it such a destination is refused (see engine.Options.Adopt
	// and engine.UnrecordedAudienceError). Plan ignores it.
	Adopt bool
	// Wait is how long Run waits for another run of the same sync to
	// finish; 0 does not wait. Plan takes no lock and ignores it.
	Wait time.Duration
	// FilterTime is the instant segment filters are evaluated at, to
	// rehearse a later run ("three days pass"); zero means now. See
	// engine.Options.FilterTime.
	FilterTime time.Time
	// StartedBy says who or what started the run, in the words of
	// state.Run.StartedBy ("cli", "schedule", "api:NAME", …); it is
	// recorded in the run log and the report.
	StartedBy string
	// Observer receives the run's events (the CLI's progress bar, later
	// metrics and the web UI's live status); nil watches nothing.
	Observer engine.Observer
}

// Run runs the named sync once, holding its lock throughout, and returns
// the report, which is also stored. The error is non-nil when the run did
// not succeed as a whole (see engine.Engine.Run); the report is nil when
// no run took place: an unknown sync (ErrNotFound), a lock held elsewhere
// (*BusyError), or a sync whose connectors could not be built.
func (s *Service) Run(ctx context.Context, name string, opts RunOptions) (rep *report.Report, err error) {
	sc, err := s.sync(name)
	if err != nil {
		return nil, err
	}
	_, locker, err := s.stores(ctx)
	if err != nil {
		return nil, err
	}
	held, err := s.lockSync(ctx, locker, name, opts.Wait)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	limit := sc.Safety.RunDeadline()
	runCtx, stopDeadline := context.WithTimeoutCause(runCtx, limit, &DeadlineError{Sync: name, Limit: limit})
	defer stopDeadline()
	held.keep(runCtx, cancel)
	defer func() { err = errors.Join(err, held.release(ctx)) }()

	rep, err = s.execute(runCtx, sc, engine.Options{FullRefresh: opts.FullRefresh, Force: opts.Force, Adopt: opts.Adopt, Owner: held.lock.Owner, FilterTime: opts.FilterTime,
		StartedBy: opts.StartedBy}, opts.Observer)
	var deadline *DeadlineError
	if cause := context.Cause(runCtx); errors.Is(cause, errLockLost) || errors.As(cause, &deadline) {
		err = errors.Join(err, cause)
	}
	return rep, err
}

// DeadlineError says a run was stopped at safety.max_run_duration.
type DeadlineError struct {
	Sync  string
	Limit time.Duration
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("sync %s ran longer than safety.max_run_duration (%s) and was stopped: what the platforms acknowledged is committed "+
		"and the next run carries on from there; if runs of this size need longer, raise max_run_duration", e.Sync, e.Limit)
}

// Plan is a dry run of the named sync: the same pipeline with no upload
// and no state change. It takes no lock, so it may run beside a Run of
// the same sync and then shows a plan against state in the making.
func (s *Service) Plan(ctx context.Context, name string, opts RunOptions) (*report.Report, error) {
	sc, err := s.sync(name)
	if err != nil {
		return nil, err
	}
	return s.execute(ctx, sc, engine.Options{DryRun: true, FullRefresh: opts.FullRefresh, Force: opts.Force, FilterTime: opts.FilterTime,
		StartedBy: opts.StartedBy}, opts.Observer)
}

// execute builds the sync's job and runs it. The in-process sandbox, if
// the job starts it, is stopped (its state file written) before execute
// returns, so that whoever takes the sync's lock next starts from what
// this run left.
func (s *Service) execute(ctx context.Context, sc *configs.Sync, opts engine.Options, obs engine.Observer) (rep *report.Report, err error) {
	st, _, err := s.stores(ctx)
	if err != nil {
		return nil, err
	}
	done := s.sandbox.use()
	defer func() { err = errors.Join(err, done()) }()
	job, err := s.build(sc)
	if err != nil {
		return nil, err
	}
	eng := &engine.Engine{Store: st, Logger: s.log, Now: s.clock, Observer: obs, PlanWorkers: s.workers, SpillDir: spillDir(s.cfg)}
	rep, err = eng.Run(ctx, job, opts)
	if cerr := job.Close(); cerr != nil {
		s.log.Warn("close connectors", zap.String("sync", sc.Name), zap.Error(cerr))
	}
	return rep, err
}

// IntegrityChecker is a state store that can run a full check of its own
// consistency (the SQLite store runs PRAGMA integrity_check).
type IntegrityChecker interface {
	Check(ctx context.Context) error
}

// CheckState runs the state store's full integrity check and returns the
// store's location. Opening the store already refuses a damaged one; this
// also finds what only the full check sees.
func (s *Service) CheckState(ctx context.Context) (string, error) {
	st, _, err := s.stores(ctx)
	if err != nil {
		return s.stateWhere(), err
	}
	c, ok := st.(IntegrityChecker)
	if !ok {
		return s.stateWhere(), fmt.Errorf("the %T state store has no integrity check", st)
	}
	return s.stateWhere(), c.Check(ctx)
}
