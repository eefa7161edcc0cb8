// Package engine runs syncs: it reads a source, normalises every member per
// destination profile, plans the changes against committed state, guards
// against mass removal, applies the changes in batches with retries, commits
// each acknowledged batch at once, and writes the run report.
//
// The guarantees it keeps, and the forms a member takes from source row to
// upload, are in docs/architecture.md; the comments here say where each
// guarantee is enforced.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/retry"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
)

// Store is the part of the state store a run uses: every part but the
// lock, which the caller holds around the run (package syncs).
type Store interface {
	state.MemberStore
	state.AudienceIDs
	state.WriteAhead
	state.RunLog
	state.PendingRequests
	state.Holdouts
}

// Engine runs syncs against a state store.
type Engine struct {
	Store  Store
	Logger *zap.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observer receives the run's events (progress, batches, outcomes);
	// nil watches nothing and costs nothing. See Observer.
	Observer Observer
	// Retry bounds the retries of each batch; zero values take defaults.
	Retry RetryPolicy
	// NewRunID makes run ids; nil uses RunID, a time-ordered random id.
	NewRunID func(now time.Time) string
	// SpillAfter is how many planned sends per destination stay in memory
	// before the rest are spooled to a temporary file (DefaultSpillAfter
	// when 0).
	SpillAfter int
	// PlanWorkers is how many goroutines prepare (normalise, hash,
	// fingerprint) members, for every destination of the run together;
	// 0 means GOMAXPROCS. `serve` sets fewer, so that a large run leaves
	// a core to the API beside it.
	PlanWorkers int
	// StreamPlanAt is the committed audience size from which a run plans
	// by merging the source, sorted on disk, with state read in key
	// order, in memory that does not grow with the audience (stream.go);
	// 0 means DefaultStreamPlanAt, a negative value never. It needs a
	// store with state.OrderedMembers and a job without segments.
	StreamPlanAt int
	// SpillDir is where a run puts its spill files (planned changes, the
	// sorted members read, source keys), in a directory of its own that
	// it removes when it ends; "" means the system's temporary
	// directory. The files hold hashed keys and identifiers, never
	// contact data in clear, and are unlinked as soon as created, so a
	// crash leaves nothing behind but the empty directory.
	SpillDir string

	// streamed, set by tests, is called once a streaming plan has merged
	// the members read with state, its spill files still open.
	streamed func()
}

// RetryPolicy bounds the retries of one batch, the HTTP client's and the
// engine's together: see package retry for the bound and the signals
// honoured. Zero values take retry's defaults (8 attempts, 15 minutes).
type RetryPolicy = retry.Policy

// Options change how a run behaves.
type Options struct {
	// DryRun plans without touching destinations or state.
	DryRun bool
	// FullRefresh re-sends every member, emptying the remote audience first
	// where the destination can (connectors.Resetter).
	FullRefresh bool
	// Force lets a run pass the removal guard.
	Force bool
	// Adopt lets a run take over an existing remote audience that holds
	// members while state has no record of it (see adopt.go): the
	// source's members are added; members already there that are not in
	// the source stay.
	Adopt bool
	// Owner is recorded with the run (state.Run.Owner): the id of the
	// lock (state.Locker) the caller holds for the sync, so that a run a
	// crash left "running" can be told from one still in progress.
	Owner string
	// FilterTime is the instant segment filters are evaluated at (a
	// rehearsal: "three days from now"); zero means the run's start.
	// Only filters see it: state and reports keep the real clock.
	FilterTime time.Time
	// StartedBy says who or what started the run (state.Run.StartedBy
	// lists the words); it is recorded with the run and put in its
	// report. "" says nothing.
	StartedBy string
}

// Job is one sync made ready to run: its built source and destinations
// (see AddDestination).
type Job struct {
	Sync    string
	Source  connectors.Source
	Request connectors.ReadRequest
	// DefaultRegion is the sync's region for national phone numbers.
	DefaultRegion string
	Targets       []*Target
	// MaxRemoveFraction and AllowEmpty configure the removal guard.
	MaxRemoveFraction float64
	AllowEmpty        bool
	// Segment is the hook segmentation plugs into (issue #15): when set,
	// it is called once per target as the run starts, with the run's
	// clock, and the MemberFilter it returns decides which members read
	// belong in that target's audience. Nil, or a nil filter, keeps
	// every member: the behaviour of a sync without segments.
	Segment func(t *Target, now time.Time) MemberFilter
	// Segments are the sync's segments, when it defines any (see
	// segments.go): a target whose Segment names one receives only the
	// members placed in it. Place is then called once as the run starts,
	// with the instant filters are evaluated at, and returns the Placer
	// that places each member read; an error stops the run before
	// anything is sent or removed (a suppression list that could not be
	// read).
	Segments []SegmentInfo
	Place    func(ctx context.Context, now time.Time) (Placer, error)
}

// MemberFilter decides whether a member read from the source belongs in
// one destination's audience. It is called once per member and
// destination, where the member is planned for that destination, before
// it is normalised: m.Attrs holds the member's attributes in the order of
// Job.Request.Attributes, already parsed (a missing or unparsable one is
// a Value that is not Present). This is the only place attributes reach
// after the read: nothing planned, sent, spooled or committed carries
// them.
//
// A member that does not belong is neither sent nor counted among the
// audience's members; if the destination holds it from an earlier run,
// the plan removes it, as for a member gone from the source. reason is a
// stable machine string (segment.filtered, attribute.missing…), counted
// in the destination's report under excluded; never a value.
//
// The filter is called from several goroutines at once (the prepare
// workers) and must not keep m or anything it points to.
type MemberFilter func(m *audience.Member) (keep bool, reason string)

// Target is one destination of a job.
type Target struct {
	// Name identifies the destination in state and reports. A target of
	// a segment is named segment/destination, so each segment's audience
	// has its own state.
	Name string
	// Segment names the job's segment (Job.Segments) whose members the
	// target receives; "" receives every member.
	Segment string
	// Type is the connection type (google_ads, file…).
	Type    string
	Dest    connectors.Destination
	Info    connectors.DestinationInfo
	Profile *normalize.Profile
	// Audience says which remote audience to use or create.
	Audience connectors.AudienceSpec
	// DefaultConsent applies to members without their own answers.
	DefaultConsent audience.Consent
	// RefreshMargin re-sends memberships this long before they lapse.
	RefreshMargin time.Duration
	// BatchSize and Concurrency cap the connector's limits when > 0.
	BatchSize   int
	Concurrency int
	// owner is the destination to close: Dest itself, or the destination
	// Dest was split from.
	owner connectors.Destination
	// attrs are the positions in Member.Attrs of Info.Attributes
	// (normalize.Options.Attributes).
	attrs []int
}

// Close closes the job's source and destinations.
func (j *Job) Close() error {
	var errs []error
	if j.Source != nil {
		errs = append(errs, j.Source.Close())
	}
	seen := map[connectors.Destination]bool{}
	for _, t := range j.Targets {
		d := t.owner
		if d == nil {
			d = t.Dest
		}
		if !seen[d] {
			seen[d] = true
			errs = append(errs, d.Close())
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Engine) logger() *zap.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return zap.NewNop()
}

func (e *Engine) runID(now time.Time) string {
	if e.NewRunID != nil {
		return e.NewRunID(now)
	}
	return RunID(now)
}

// RunID returns a new run id for a run that starts at now: the time to
// the second, then six random hex digits, so that ids sort by start and
// two runs started in the same second still differ. The engine gives its
// runs such ids unless Engine.NewRunID says otherwise; whatever else
// records a run in the run log (a skipped tick) takes one too, so that
// its ids look and sort like the engine's.
func RunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// GuardError is returned when the removal guard stops a run.
type GuardError struct {
	Destination string
	Committed   int64
	Remove      int64
	Limit       float64
	Empty       bool
}

func (g *GuardError) Error() string {
	if g.Empty {
		return fmt.Sprintf("destination %s: this run would empty the audience (all %d members removed); "+
			"nothing was uploaded. If the source really is empty, run again with --force "+
			"(or set safety.allow_empty: true)", g.Destination, g.Committed)
	}
	return fmt.Sprintf("destination %s: this run would remove %d of %d members (%.1f%%), above the limit of %.1f%%; "+
		"nothing was uploaded. Check the source; if the removals are intended, run again with --force "+
		"or raise safety.max_remove_fraction", g.Destination, g.Remove, g.Committed,
		100*float64(g.Remove)/float64(g.Committed), 100*g.Limit)
}

// ErrSourceFailed wraps a source read failure; such a run removes nothing.
var ErrSourceFailed = errors.New("source read failed")

// Run runs one job and returns its report. The returned error is non-nil
// when the run did not succeed as a whole (source failure, guard, or a
// destination that failed); the report is always returned and, unless this
// is a dry run, stored.
func (e *Engine) Run(ctx context.Context, job *Job, opts Options) (*report.Report, error) {
	log := e.logger().With(zap.String("sync", job.Sync))
	started := e.now()
	rep := &report.Report{
		RunID:       e.runID(started),
		Sync:        job.Sync,
		DryRun:      opts.DryRun,
		FullRefresh: opts.FullRefresh,
		Forced:      opts.Force,
		StartedBy:   opts.StartedBy,
		Status:      report.StatusRunning,
		StartedAt:   started,
		Source:      report.Source{Rejected: map[string]int64{}},
	}
	run := connectors.RunInfo{ID: rep.RunID, Sync: job.Sync, Started: started}
	// Bookkeeping must survive Ctrl-C: what was acknowledged is committed.
	keep := context.WithoutCancel(ctx)
	if !opts.DryRun {
		if err := e.Store.BeginRun(ctx, state.Run{ID: rep.RunID, Sync: job.Sync, Status: string(report.StatusRunning), Started: started, Owner: opts.Owner,
			StartedBy: opts.StartedBy}); err != nil {
			// Nothing ran and nothing is recorded; the report still ends
			// with a final status.
			rep.Status, rep.FinishedAt = report.StatusFailed, e.now()
			err = fmt.Errorf("record run start: %w", err)
			if ctx.Err() != nil {
				rep.Status, err = report.StatusInterrupted, interruptedOr(ctx, "starting", err)
			}
			rep.Error = err.Error()
			return rep, err
		}
	}
	log.Info("run started", zap.String("run_id", rep.RunID), zap.Bool("dry_run", opts.DryRun),
		zap.Bool("full_refresh", opts.FullRefresh), zap.Bool("force", opts.Force), zap.String("started_by", opts.StartedBy))
	ev := &events{obs: e.Observer, run: RunRef{ID: rep.RunID, Sync: job.Sync}}
	if ev.on() {
		names := make([]string, len(job.Targets))
		for i, t := range job.Targets {
			names[i] = t.Name
		}
		ev.send(RunStarted{Run: ev.run, StartedAt: started, DryRun: opts.DryRun, FullRefresh: opts.FullRefresh,
			Force: opts.Force, Destinations: names})
	}

	shared, runErr := e.run(ctx, log, ev, job, opts, run, rep)
	// The one place a run's status is set: from its destinations', unless
	// a step they all depend on failed.
	rep.Status = report.RunStatus(shared, rep.Destinations)
	if runErr == nil && rep.Status != report.StatusSucceeded && rep.Status != report.StatusPlanned {
		runErr = fmt.Errorf("sync %s %s: see the report's destination errors", job.Sync, rep.Status)
	}
	rep.FinishedAt = e.now()
	if runErr != nil && rep.Error == "" {
		rep.Error = runErr.Error()
	}
	if !opts.DryRun {
		body, err := json.Marshal(rep)
		if err == nil {
			err = e.Store.FinishRun(keep, rep.RunID, string(rep.Status), rep.FinishedAt, body, summaries(rep))
		}
		if err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("record run report: %w", err))
		}
	}
	log.Info("run finished", zap.String("run_id", rep.RunID), zap.String("status", string(rep.Status)),
		zap.Duration("took", rep.FinishedAt.Sub(rep.StartedAt)))
	if ev.on() {
		ev.send(RunFinished{Run: ev.run, Status: rep.Status, Duration: rep.FinishedAt.Sub(rep.StartedAt), Err: runErr})
	}
	return rep, runErr
}

// run reads, plans and applies. shared reports that a step every
// destination depends on failed, so the run failed as a whole.
func (e *Engine) run(ctx context.Context, log *zap.Logger, ev *events, job *Job, opts Options, run connectors.RunInfo, rep *report.Report) (shared bool, err error) {
	plans := make([]*plan, len(job.Targets))
	spill := e.SpillAfter
	if spill <= 0 {
		spill = DefaultSpillAfter
	}
	spillDir, err := os.MkdirTemp(e.SpillDir, "audiencesync-run-*")
	if err != nil {
		return true, fmt.Errorf("create the run's spill directory in %q: %w; check that it exists and is writable", e.SpillDir, err)
	}
	for i, t := range job.Targets {
		plans[i] = newPlan(t, job, opts, e.now(), spill)
		plans[i].bulk.dir = spillDir
		plans[i].ev, plans[i].runDone = ev, ctx.Done()
		rep.Destinations = append(rep.Destinations, plans[i].rep)
	}
	defer func() {
		for _, p := range plans {
			p.bulk.close()
			p.srcs.close()
			p.mkeys.close()
			p.ids.close()
		}
		_ = os.RemoveAll(spillDir)
		// Guarantee: no destination is left running, whichever way the
		// run ends.
		stopAll(ctx, plans)
	}()

	// Placing members into segments is set up first: a suppression list
	// that cannot be read stops the run before anything is sent.
	placing, err := e.startPlacing(ctx, job, opts, plans, rep)
	if err != nil {
		stopAll(ctx, plans)
		return true, interruptedOr(ctx, "setting up segments", fmt.Errorf("%w; nothing was uploaded or removed", err))
	}

	// Resolve remote audiences first: a destination whose credentials fail
	// is reported without spending a source read on it.
	if !opts.DryRun {
		e.ensureAll(ctx, log, plans, opts)
		if err := unavailable(plans); err != nil {
			settleAll(plans, report.Outcome{Stopped: true})
			return true, err
		}
	} else {
		for _, p := range plans {
			if id, err := e.Store.AudienceID(ctx, p.scope); err == nil {
				p.rep.AudienceID = id
			}
		}
	}

	// Load committed state, read the source and diff, per destination.
	if err := e.loadState(ctx, log, job, plans); err != nil {
		return stopAll(ctx, plans), interruptedOr(ctx, "loading state", err)
	}
	trackMoves(job, plans)
	if err := e.read(ctx, log, ev, job, plans, rep); err != nil {
		// Guarantee: a run whose source read fails removes nothing. It
		// uploads nothing either, so the audience stays as it was.
		if shared := stopAll(ctx, plans); !shared {
			return false, interruptedOr(ctx, "reading the source", err)
		}
		return true, fmt.Errorf("%w: %w; nothing was uploaded or removed", ErrSourceFailed, err)
	}
	if err := e.finishPlans(ctx, plans); err != nil {
		return stopAll(ctx, plans), interruptedOr(ctx, "planning", err)
	}
	countMoves(job, plans, rep)
	if ev.on() {
		for _, p := range plans {
			if !p.failed {
				ev.send(DestinationPlanned{Run: ev.run, Destination: p.t.Name, Planned: p.rep.Planned,
					Members: p.rep.Members, Changes: p.changeCount()})
			}
		}
	}

	// Guarantee: a run that would remove more than the configured fraction,
	// or empty an audience, stops before uploading anything unless forced.
	if !opts.Force {
		var guardErrs []error
		for _, p := range plans {
			if g := p.guard(job); g != nil {
				guardErrs = append(guardErrs, g)
				p.rep.Errors = append(p.rep.Errors, g.Error())
			}
		}
		if len(guardErrs) > 0 {
			settleAll(plans, report.Outcome{Aborted: true})
			err := errors.Join(guardErrs...)
			log.Warn("removal guard stopped the run", zap.Error(err))
			return false, err
		}
	}

	if opts.DryRun {
		settleAll(plans, report.Outcome{DryRun: true})
		return false, nil
	}
	// Who is held out is recorded before anything is sent, so that a
	// measurement never misses a member this run kept out.
	if err := e.recordHoldouts(ctx, job, placing, rep.StartedAt); err != nil {
		settleAll(plans, report.Outcome{Stopped: true})
		return true, interruptedOr(ctx, "recording holdouts", fmt.Errorf("%w; nothing was uploaded or removed", err))
	}

	var wg sync.WaitGroup
	for _, p := range plans {
		if p.failed {
			p.settle() // Ensure failed
			continue
		}
		wg.Go(func() {
			dlog := log.With(zap.String("destination", p.t.Name))
			e.apply(ctx, dlog, p, run, opts)
			p.settle()
			dlog.Info("destination done", zap.String("status", string(p.rep.Status)),
				zap.Int64("added", p.rep.Applied.Added), zap.Int64("removed", p.rep.Applied.Removed),
				zap.Int64("updated", p.rep.Applied.Updated), zap.Int64("refreshed", p.rep.Applied.Refreshed),
				zap.Int64("failed", p.rep.Applied.Failed), zap.Int("batches", p.rep.Batches))
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return false, fmt.Errorf("interrupted: %w; acknowledged batches were committed, the next run continues from there", ctx.Err())
	}
	return false, nil
}

// stopAll settles every destination not settled yet, when a step they all
// share ended the run early: interrupted when the run's context has ended,
// which is no failure of the run's own (shared is false), failed
// otherwise (shared is true).
func stopAll(ctx context.Context, plans []*plan) (shared bool) {
	if ctx.Err() != nil {
		settleAll(plans, report.Outcome{Interrupted: true})
		return false
	}
	settleAll(plans, report.Outcome{Stopped: true})
	return true
}

// interruptedOr returns err, or, once ctx has ended, an error saying the
// run was interrupted while doing what, before anything was sent.
func interruptedOr(ctx context.Context, what string, err error) error {
	if ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("interrupted while %s: %w; nothing was uploaded or removed, the next run starts afresh", what, context.Cause(ctx))
}

func (e *Engine) ensureAll(ctx context.Context, log *zap.Logger, plans []*plan, opts Options) {
	var wg sync.WaitGroup
	for _, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := p.t.Audience
			id, err := e.Store.AudienceID(ctx, p.scope)
			if err == nil {
				spec.KnownID = id
			}
			recorded := !errors.Is(err, state.ErrNotFound)
			err = e.withRetry(ctx, log.With(zap.String("destination", p.t.Name)), p.t.Name,
				fmt.Sprintf("finding audience %q", spec.Name), 1, func(ctx context.Context) error {
					a, err := p.t.Dest.Ensure(ctx, spec)
					if err == nil {
						p.aud = a
					}
					return err
				}, &p.rep.Retries)
			if err != nil {
				p.fail(fmt.Errorf("find or create audience %q: %w", spec.Name, err))
				log.Error("destination unavailable", zap.String("destination", p.t.Name), zap.Error(err))
				return
			}
			p.rep.AudienceID = p.aud.ID
			// Before the id is recorded: a refused audience stays unknown
			// to state, so the next run asks again.
			if !recorded && !p.aud.Created {
				if err := e.checkUnrecorded(ctx, log, p, opts); err != nil {
					p.fail(err)
					p.refusal = err
					log.Error("destination refused", zap.String("destination", p.t.Name), zap.Error(err))
					return
				}
			}
			if p.aud.ID != spec.KnownID {
				if err := e.Store.SetAudienceID(ctx, p.scope, p.aud.ID); err != nil {
					p.fail(fmt.Errorf("record audience id: %w", err))
				}
			}
			if p.aud.Created {
				log.Info("audience created", zap.String("destination", p.t.Name), zap.String("audience_id", p.aud.ID))
			}
		}()
	}
	wg.Wait()
}
