// Package record is what the two SQL stores, state/sqlite and
// state/postgres, read and write the same way whatever their dialect:
// the columns of their tables, the values of a row, and the scan of a
// row into the state types, with the same NULL and time conventions
// (times are unix microseconds, state.UnixMicros; an absent time or
// platform figure is NULL). Each store keeps its own SQL around these
// (placeholders, upserts, locking, transactions), so a column added to a
// table is added here once, and both stores read it alike.
package record

import (
	"database/sql"
	"time"

	"github.com/audiencesync/audiencesync/state"
)

// Scanner is one row to read: *sql.Row and *sql.Rows, pgx.Row and
// pgx.CollectableRow.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows are the rows of a query, as both *sql.Rows and pgx.Rows give them;
// the caller closes them.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// NullMicros is the stored form of a time that may be absent: its unix
// microseconds, or NULL (nil) for the zero time.
func NullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return state.UnixMicros(t)
}

// fromNullMicros reverses NullMicros.
func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return state.FromUnixMicros(v.Int64)
}

// RunCols are the columns of the runs table a listing reads, in the
// order RunScan.Dest scans them; the report is read (after them) only
// for one run.
const RunCols = `id, sync, status, started, finished, owner, started_by`

// RunScan receives one row of RunCols.
type RunScan struct {
	// Run holds the row once scanned (its times after Done). A query that
	// reads the report too scans it into Run.Report.
	Run      state.Run
	started  int64
	finished sql.NullInt64 // NULL while the run is running
}

// Dest returns the scan destinations of RunCols.
func (s *RunScan) Dest() []any {
	return []any{&s.Run.ID, &s.Run.Sync, &s.Run.Status, &s.started, &s.finished, &s.Run.Owner, &s.Run.StartedBy}
}

// Done returns the run scanned, its times converted.
func (s *RunScan) Done() state.Run {
	s.Run.Started, s.Run.Finished = state.FromUnixMicros(s.started), fromNullMicros(s.finished)
	return s.Run
}

// SummaryCols are the columns of one run summary as SummaryScan reads
// them: the destination's name from scopes (sc), then run_summaries (rs).
const SummaryCols = `sc.dest, rs.status, rs.planned_add, rs.planned_remove, rs.planned_update, rs.planned_refresh,
		rs.planned_unchanged, rs.added, rs.removed, rs.updated, rs.refreshed, rs.failed, rs.not_attempted, rs.members,
		rs.platform_status, rs.match_rate, rs.platform_size, rs.started, rs.finished`

// SummariesSQL reads run summaries with their run ids, in each run's
// recorded order; %s is the condition on rs.run_id, in the store's
// dialect (the list of runs to read).
const SummariesSQL = `SELECT rs.run_id, ` + SummaryCols + `
	FROM run_summaries rs JOIN scopes sc ON sc.id = rs.scope_id
	WHERE rs.run_id %s ORDER BY rs.run_id, rs.seq`

// SummaryScan receives one row of SummaryCols. Every column may be NULL,
// as a LEFT JOIN reads them for a run without summaries (Valid says).
type SummaryScan struct {
	dest, status, pStatus, pRate sql.NullString
	// counts are the planned (5) and applied (6) counts and members, in
	// the order of SummaryCols.
	counts                  [12]sql.NullInt64
	pSize, started, stopped sql.NullInt64
}

// Dest returns the scan destinations of SummaryCols.
func (s *SummaryScan) Dest() []any {
	d := make([]any, 0, 19)
	d = append(d, &s.dest, &s.status)
	for i := range s.counts {
		d = append(d, &s.counts[i])
	}
	return append(d, &s.pStatus, &s.pRate, &s.pSize, &s.started, &s.stopped)
}

// Valid reports whether the row held a summary.
func (s *SummaryScan) Valid() bool { return s.dest.Valid }

// Summary returns the summary scanned.
func (s *SummaryScan) Summary() state.Summary {
	c := &s.counts
	sum := state.Summary{
		Destination: s.dest.String,
		Status:      s.status.String,
		Planned:     state.Planned{Add: c[0].Int64, Remove: c[1].Int64, Update: c[2].Int64, Refresh: c[3].Int64, Unchanged: c[4].Int64},
		Applied: state.Applied{Added: c[5].Int64, Removed: c[6].Int64, Updated: c[7].Int64, Refreshed: c[8].Int64, Failed: c[9].Int64,
			NotAttempted: c[10].Int64},
		Members:  c[11].Int64,
		Started:  state.FromUnixMicros(s.started.Int64),
		Finished: state.FromUnixMicros(s.stopped.Int64),
	}
	// The platform columns are NULL when the platform reported nothing,
	// platform_size when it reported no size.
	if s.pStatus.Valid {
		sum.Platform = &state.PlatformFigures{Status: s.pStatus.String, MatchRate: s.pRate.String, Size: -1}
		if s.pSize.Valid {
			sum.Platform.Size = s.pSize.Int64
		}
	}
	return sum
}

// ReadSummaries reads the rows of SummariesSQL and hands each summary
// to add with its run id.
func ReadSummaries(rows Rows, add func(runID string, sum state.Summary)) error {
	for rows.Next() {
		var (
			id  string
			sum SummaryScan
		)
		if err := rows.Scan(append([]any{&id}, sum.Dest()...)...); err != nil {
			return err
		}
		add(id, sum.Summary())
	}
	return rows.Err()
}

// SummaryInsertCols are the run_summaries columns SummaryValues gives.
const SummaryInsertCols = `run_id, scope_id, seq, status,
	planned_add, planned_remove, planned_update, planned_refresh, planned_unchanged,
	added, removed, updated, refreshed, failed, not_attempted, members,
	platform_status, match_rate, platform_size, started, finished`

// SummaryValues are the values of SummaryInsertCols for sum, the seq-th
// summary of run runID, in scope scopeID.
func SummaryValues(runID string, scopeID int64, seq int, sum state.Summary) []any {
	var pStatus, pRate, pSize any // NULL when the platform reported nothing
	if p := sum.Platform; p != nil {
		pStatus, pRate = p.Status, p.MatchRate
		if p.Size >= 0 {
			pSize = p.Size
		}
	}
	pl, ap := sum.Planned, sum.Applied
	return []any{runID, scopeID, seq, sum.Status,
		pl.Add, pl.Remove, pl.Update, pl.Refresh, pl.Unchanged,
		ap.Added, ap.Removed, ap.Updated, ap.Refreshed, ap.Failed, ap.NotAttempted, sum.Members,
		pStatus, pRate, pSize, state.UnixMicros(sum.Started), state.UnixMicros(sum.Finished)}
}

// SizePointCols are the run_summaries columns ScanSizePoint reads.
const SizePointCols = `run_id, status, finished, members`

// ScanSizePoint reads one row of SizePointCols.
func ScanSizePoint(row Scanner) (state.SizePoint, error) {
	var (
		p        state.SizePoint
		finished int64
	)
	err := row.Scan(&p.RunID, &p.Status, &finished, &p.Members)
	p.Finished = state.FromUnixMicros(finished)
	return p, err
}

// PendingCols are the pending_requests columns ScanPending reads.
const PendingCols = `request_id, kind, recorded`

// ScanPending reads one row of PendingCols.
func ScanPending(row Scanner) (state.PendingRequest, error) {
	var (
		r        state.PendingRequest
		recorded int64
	)
	err := row.Scan(&r.ID, &r.Kind, &recorded)
	r.Recorded = state.FromUnixMicros(recorded)
	return r, err
}

// TokenCols are the api_tokens columns, as ScanToken reads them and
// TokenValues gives them.
const TokenCols = `id, name, role, hash, created, last_used`

// TokenValues are the values of TokenCols for t.
func TokenValues(t state.Token) []any {
	return []any{t.ID, t.Name, t.Role, t.Hash, state.UnixMicros(t.Created), NullMicros(t.LastUsed)}
}

// ScanToken reads one row of TokenCols.
func ScanToken(row Scanner) (state.Token, error) {
	var (
		t        state.Token
		created  int64
		lastUsed sql.NullInt64 // NULL: never used
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &lastUsed); err != nil {
		return state.Token{}, err
	}
	t.Created, t.LastUsed = state.FromUnixMicros(created), fromNullMicros(lastUsed)
	return t, nil
}

// LockCols are the columns of a lock's row both stores keep, as ScanLock
// reads them and LockValues gives them.
const LockCols = `name, owner, pid, host, acquired, heartbeat, expires`

// LockValues are the values of LockCols for l.
func LockValues(l state.Lock) []any {
	return []any{l.Name, l.Owner, l.PID, l.Host, state.UnixMicros(l.Acquired), state.UnixMicros(l.Heartbeat), state.UnixMicros(l.Expires)}
}

// ScanLock reads one row of LockCols, then the columns after them into
// more.
func ScanLock(row Scanner, more ...any) (state.Lock, error) {
	var (
		l                            state.Lock
		acquired, heartbeat, expires int64
	)
	if err := row.Scan(append([]any{&l.Name, &l.Owner, &l.PID, &l.Host, &acquired, &heartbeat, &expires}, more...)...); err != nil {
		return state.Lock{}, err
	}
	l.Acquired, l.Heartbeat, l.Expires = state.FromUnixMicros(acquired), state.FromUnixMicros(heartbeat), state.FromUnixMicros(expires)
	return l, nil
}
