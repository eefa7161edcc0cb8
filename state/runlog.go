package state

import (
	"context"
	"time"
)

// Run is one recorded run.
type Run struct {
	ID       string
	Sync     string
	Status   string
	Started  time.Time
	Finished time.Time // zero while running
	// Report is the run report as JSON; nil while running, and nil in the
	// runs RunLog.Runs lists (read Summaries there, or one run's report
	// with RunLog.Run).
	Report []byte
	// Owner is the lock owner (see Locker) the run was started under; with
	// that lock's heartbeat it tells a run in progress from one a crash
	// left "running". Empty for a run started without a lock.
	Owner string
	// StartedBy says who or what started the run, for run history. It is
	// one of a short, stable vocabulary, never a secret or contact data:
	//
	//   - "schedule": a scheduled tick of the daemon (audiencesync serve)
	//   - "catch-up": the daemon's catch-up of a missed tick at start
	//   - "cli": audiencesync sync on the command line
	//   - "api:NAME": the JSON API, by the API token named NAME (the
	//     token's name, never the token); "api" alone when the API served
	//     the request without a token (loopback, while no token exists)
	//   - "web:NAME", "web": the same, through the web UI's Run now
	//
	// Empty when not recorded: runs recorded before the run log kept it
	// (schema version 7 of the SQLite store), and callers that do not say.
	StartedBy string
	// Summaries are the run's per-destination figures, in the order they
	// were recorded; empty while the run is running, and for a run a crash
	// left "running" (it never finished).
	Summaries []Summary
}

// Summary is what one run did to one destination, as typed figures: the
// rows run history and size-over-time charts read. It holds counts, never
// contact data.
type Summary struct {
	// Destination is the destination's name in the sync (the Scope's).
	Destination string
	// Status is the destination's status in the report (report.Status).
	Status string
	// Planned counts the changes the plan asked for, by op.
	Planned Planned
	// Applied counts what the platform acknowledged and state committed.
	Applied Applied
	// Members is how many members the audience should hold after the run.
	Members int64
	// Platform is what the platform reported, when it did.
	Platform *PlatformFigures
	// Started and Finished are the run's.
	Started, Finished time.Time
}

// Planned counts the changes planned for a destination, by op.
type Planned struct {
	Add, Remove, Update, Refresh, Unchanged int64
}

// Applied counts the changes a destination acknowledged, by op, and the
// members whose batch failed.
type Applied struct {
	Added, Removed, Updated, Refreshed, Failed, NotAttempted int64
}

// PlatformFigures are the platform's own figures for an audience after a
// run (connectors.PlatformReport, without the request ids).
type PlatformFigures struct {
	// Status summarises request processing as the platform words it.
	Status string
	// MatchRate is the platform's match-rate range, as it words it.
	MatchRate string
	// Size is the audience size the platform reports; -1 when unknown.
	Size int64
}

// SizePoint is one destination's audience size after one run.
type SizePoint struct {
	RunID string
	// Status is the destination's: succeeded, or partial or interrupted,
	// when Members is the size the run aimed for and the next run sends
	// the rest.
	Status   string
	Finished time.Time
	Members  int64
}

// RunFilter selects the runs RunLog.Runs lists. Zero fields select
// everything: the zero RunFilter lists the newest 50 runs of every sync.
type RunFilter struct {
	// Sync keeps the runs of one sync; "" keeps all.
	Sync string
	// Statuses keeps runs whose recorded status is one of these; empty
	// keeps all.
	Statuses []string
	// Since and Until keep runs that started at or after Since and before
	// Until; a zero time leaves that side open.
	Since, Until time.Time
	// After, when set, keeps the runs listed after it: those that started
	// before After.Started, or at the same time with a smaller ID. It is
	// the last run of the previous page, so paging by it neither skips nor
	// repeats a run while new ones are recorded.
	After *RunCursor
	// Limit is how many runs to list at most; <= 0 means 50.
	Limit int
}

// RunCursor is a position in the newest-first order of RunLog.Runs.
type RunCursor struct {
	Started time.Time
	ID      string
}

// RunLog records runs, their reports and their per-destination summaries.
// All methods are safe for concurrent use.
type RunLog interface {
	// BeginRun records a run as started. An id already recorded is an
	// error.
	BeginRun(ctx context.Context, run Run) error
	// FinishRun records a run's status, end and report, and one Summary per
	// destination, atomically; summaries replace any recorded for the run
	// before. An unknown id is ErrNotFound.
	FinishRun(ctx context.Context, id, status string, finished time.Time, report []byte, summaries []Summary) error
	// Runs lists the runs that match filter, with their summaries and
	// without their reports, newest first (by Started, then ID, both
	// descending): at most filter.Limit of them (<= 0 means 50).
	Runs(ctx context.Context, filter RunFilter) ([]Run, error)
	// Run returns one run with its report and summaries, or ErrNotFound.
	Run(ctx context.Context, id string) (Run, error)
	// SizeHistory returns the audience size of scope (Summary.Members)
	// after each run that succeeded on it or partly succeeded (status
	// succeeded, partial or interrupted), oldest first: at most limit
	// points, the newest ones (limit <= 0 means 500). Runs that were
	// aborted or failed there changed nothing and are left out.
	SizeHistory(ctx context.Context, scope Scope, limit int) ([]SizePoint, error)
}
