package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/state"
)

// defaultRunsLimit is how many runs Runs lists when asked for limit <= 0.
const defaultRunsLimit = 50

// defaultSizePoints is how many points SizeHistory returns when asked for
// limit <= 0.
const defaultSizePoints = 500

// BeginRun implements state.RunLog. It records every field of run as
// given, except Summaries (FinishRun records those); an id that is already
// recorded is an error.
func (s *Store) BeginRun(ctx context.Context, run state.Run) error {
	if run.ID == "" {
		return errors.New("begin run: empty run id")
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO runs (id, sync, status, started, finished, report, owner, started_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			run.ID, run.Sync, run.Status, toMicros(run.Started), nullMicros(run.Finished), run.Report, run.Owner, run.StartedBy)
		return err
	})
	if err != nil {
		return fmt.Errorf("begin run %q: %w", run.ID, err)
	}
	return nil
}

// FinishRun implements state.RunLog. An unknown id is ErrNotFound.
func (s *Store) FinishRun(ctx context.Context, id, status string, finished time.Time, report []byte, summaries []state.Summary) error {
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		if err := execTouching(ctx, tx, state.ErrNotFound, `UPDATE runs SET status = ?, finished = ?, report = ? WHERE id = ?`,
			status, nullMicros(finished), report, id); err != nil {
			return err
		}
		var sync string
		if err := tx.QueryRowContext(ctx, `SELECT sync FROM runs WHERE id = ?`, id).Scan(&sync); err != nil {
			return err
		}
		return writeSummaries(ctx, tx, id, sync, summaries)
	})
	s.runs.forget(id)
	if err != nil {
		return fmt.Errorf("finish run %q: %w", id, err)
	}
	return nil
}

// writeSummaries replaces the summaries of run id, of sync, with summaries.
func writeSummaries(ctx context.Context, tx *sql.Tx, id, sync string, summaries []state.Summary) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM run_summaries WHERE run_id = ?`, id); err != nil {
		return fmt.Errorf("clear summaries: %w", err)
	}
	for i, sum := range summaries {
		scopeID, err := ensureScope(ctx, tx, state.Scope{Sync: sync, Destination: sum.Destination})
		if err != nil {
			return err
		}
		var pStatus, pRate, pSize any // NULL when the platform reported nothing
		if p := sum.Platform; p != nil {
			pStatus, pRate = p.Status, p.MatchRate
			if p.Size >= 0 {
				pSize = p.Size
			}
		}
		pl, ap := sum.Planned, sum.Applied
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_summaries (run_id, scope_id, seq, status,
				planned_add, planned_remove, planned_update, planned_refresh, planned_unchanged,
				added, removed, updated, refreshed, failed, not_attempted, members,
				platform_status, match_rate, platform_size, started, finished)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, scopeID, i, sum.Status,
			pl.Add, pl.Remove, pl.Update, pl.Refresh, pl.Unchanged,
			ap.Added, ap.Removed, ap.Updated, ap.Refreshed, ap.Failed, ap.NotAttempted, sum.Members,
			pStatus, pRate, pSize, toMicros(sum.Started), toMicros(sum.Finished)); err != nil {
			return fmt.Errorf("record summary of destination %q: %w", sum.Destination, err)
		}
	}
	return nil
}

// runsSQL lists runs (the inner select, given by the caller) with their
// summaries: one row per summary, or one row with NULL summary columns for
// a run without any.
const runsSQL = `SELECT r.id, r.sync, r.status, r.started, r.finished, r.report, r.owner, r.started_by,
		sc.dest, rs.status, rs.planned_add, rs.planned_remove, rs.planned_update, rs.planned_refresh,
		rs.planned_unchanged, rs.added, rs.removed, rs.updated, rs.refreshed, rs.failed, rs.not_attempted, rs.members,
		rs.platform_status, rs.match_rate, rs.platform_size, rs.started, rs.finished
	FROM (%s) r
	LEFT JOIN run_summaries rs ON rs.run_id = r.id
	LEFT JOIN scopes sc ON sc.id = rs.scope_id
	ORDER BY r.started DESC, r.id DESC, rs.seq`

// Runs implements state.RunLog. One read transaction lists the page of
// runs and then the summaries of those the run cache does not hold, so a
// listing is consistent, and leaves the reports on disk. The filter
// becomes the WHERE clause; the (sync, started) and (started) indexes
// serve the order and the time bounds.
//
// A listing is what the API and the web UI ask for most, over and over,
// while a sync runs beside them; the summaries of finished runs, which
// never change, come from memory (runcache.go), so most listings read
// only the page's run rows.
func (s *Store) Runs(ctx context.Context, f state.RunFilter) ([]state.Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultRunsLimit
	}
	var (
		where []string
		args  []any
	)
	if f.Sync != "" {
		where, args = append(where, `sync = ?`), append(args, f.Sync)
	}
	if len(f.Statuses) > 0 {
		where = append(where, `status IN (?`+strings.Repeat(`, ?`, len(f.Statuses)-1)+`)`)
		for _, st := range f.Statuses {
			args = append(args, st)
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, `started >= ?`), append(args, toMicros(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, `started < ?`), append(args, toMicros(f.Until))
	}
	if c := f.After; c != nil {
		at := toMicros(c.Started)
		where, args = append(where, `(started < ? OR (started = ? AND id < ?))`), append(args, at, at, c.ID)
	}
	query := `SELECT id, sync, status, started, finished, owner, started_by FROM runs`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY started DESC, id DESC LIMIT ?`
	out, err := s.listRuns(ctx, query, append(args, limit))
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// listRuns runs query (run rows, newest first) and attaches each run's
// summaries, from the run cache or from one more query, in one read
// transaction.
func (s *Store) listRuns(ctx context.Context, query string, args []any) ([]state.Run, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := s.readRows(ctx, tx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []state.Run
	for rows.Next() {
		var r state.Run
		var times [2]sql.NullInt64 // started, finished (NULL while running)
		if err := rows.Scan(&r.ID, &r.Sync, &r.Status, &times[0], &times[1], &r.Owner, &r.StartedBy); err != nil {
			rows.Close()
			return nil, err
		}
		r.Started = fromMicros(times[0].Int64)
		if times[1].Valid {
			r.Finished = fromMicros(times[1].Int64)
		}
		out = append(out, r)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var missing []any
	at := map[string]int{}
	for i := range out {
		if sums, ok := s.runs.summaries(out[i].ID); ok {
			out[i].Summaries = sums
			continue
		}
		missing = append(missing, out[i].ID)
		at[out[i].ID] = i
	}
	if len(missing) > 0 {
		if err := readSummaries(ctx, tx, missing, func(id string, sum state.Summary) {
			out[at[id]].Summaries = append(out[at[id]].Summaries, sum)
		}); err != nil {
			return nil, err
		}
		for _, id := range missing {
			s.runs.keep(out[at[id.(string)]], false)
		}
	}
	return out, tx.Commit()
}

// summarySQL reads run summaries with their destination names, in each
// run's recorded order.
const summarySQL = `SELECT rs.run_id, sc.dest, rs.status, rs.planned_add, rs.planned_remove, rs.planned_update, rs.planned_refresh,
		rs.planned_unchanged, rs.added, rs.removed, rs.updated, rs.refreshed, rs.failed, rs.not_attempted, rs.members,
		rs.platform_status, rs.match_rate, rs.platform_size, rs.started, rs.finished
	FROM run_summaries rs JOIN scopes sc ON sc.id = rs.scope_id
	WHERE rs.run_id IN (?%s) ORDER BY rs.run_id, rs.seq`

// readSummaries reads the summaries of the runs ids and hands each to
// add, in each run's recorded order.
func readSummaries(ctx context.Context, tx *sql.Tx, ids []any, add func(id string, sum state.Summary)) error {
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(summarySQL, strings.Repeat(`, ?`, len(ids)-1)), ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id      string
			sum     state.Summary
			pStatus sql.NullString
			pRate   sql.NullString
			pSize   sql.NullInt64
			pl      = &sum.Planned
			ap      = &sum.Applied
			started int64
			ended   int64
		)
		if err := rows.Scan(&id, &sum.Destination, &sum.Status, &pl.Add, &pl.Remove, &pl.Update, &pl.Refresh, &pl.Unchanged,
			&ap.Added, &ap.Removed, &ap.Updated, &ap.Refreshed, &ap.Failed, &ap.NotAttempted, &sum.Members,
			&pStatus, &pRate, &pSize, &started, &ended); err != nil {
			return err
		}
		sum.Platform = platformOf(pStatus, pRate, pSize)
		sum.Started, sum.Finished = fromMicros(started), fromMicros(ended)
		add(id, sum)
	}
	return rows.Err()
}

// platformOf reads a summary's platform columns: nil when the platform
// reported nothing, a size of -1 when it reported no size.
func platformOf(status, rate sql.NullString, size sql.NullInt64) *state.PlatformFigures {
	if !status.Valid {
		return nil
	}
	p := &state.PlatformFigures{Status: status.String, MatchRate: rate.String, Size: -1}
	if size.Valid {
		p.Size = size.Int64
	}
	return p
}

// Run implements state.RunLog. A finished run's report and summaries are
// kept in the run cache once read: a report is read again and again
// while it is on screen, and never changes.
func (s *Store) Run(ctx context.Context, id string) (state.Run, error) {
	if r, ok := s.runs.run(id); ok {
		return r, nil
	}
	rows, err := s.readRows(ctx, nil, runByIDSQL, id)
	if err != nil {
		return state.Run{}, fmt.Errorf("run %q: %w", id, err)
	}
	runs, err := scanRuns(rows)
	if err != nil {
		return state.Run{}, fmt.Errorf("run %q: %w", id, err)
	}
	if len(runs) == 0 {
		return state.Run{}, fmt.Errorf("run %q: %w", id, state.ErrNotFound)
	}
	s.runs.keep(runs[0], true)
	return runs[0], nil
}

// runByIDSQL reads one run with its report and summaries.
var runByIDSQL = fmt.Sprintf(runsSQL, `SELECT id, sync, status, started, finished, report, owner, started_by FROM runs WHERE id = ?`)

// scanRuns reads the rows of runsSQL, grouping the summaries by run, and
// closes them.
func scanRuns(rows *sql.Rows) ([]state.Run, error) {
	defer rows.Close()
	var out []state.Run
	for rows.Next() {
		var (
			r        state.Run
			started  int64
			finished sql.NullInt64
			dest     sql.NullString
			sum      state.Summary
			pStatus  sql.NullString
			pRate    sql.NullString
			pSize    sql.NullInt64
			// The summary columns are NULL for a run without summaries.
			status              sql.NullString
			sStarted, sFinished sql.NullInt64
			pl                  [5]sql.NullInt64
			ap                  [6]sql.NullInt64
			members             sql.NullInt64
		)
		if err := rows.Scan(&r.ID, &r.Sync, &r.Status, &started, &finished, &r.Report, &r.Owner, &r.StartedBy,
			&dest, &status, &pl[0], &pl[1], &pl[2], &pl[3], &pl[4], &ap[0], &ap[1], &ap[2], &ap[3], &ap[4], &ap[5], &members,
			&pStatus, &pRate, &pSize, &sStarted, &sFinished); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].ID == r.ID {
			r = out[n-1]
			out = out[:n-1]
		} else {
			r.Started = fromMicros(started)
			if finished.Valid {
				r.Finished = fromMicros(finished.Int64)
			}
		}
		if dest.Valid {
			sum.Destination, sum.Status, sum.Members = dest.String, status.String, members.Int64
			sum.Planned = state.Planned{Add: pl[0].Int64, Remove: pl[1].Int64, Update: pl[2].Int64, Refresh: pl[3].Int64, Unchanged: pl[4].Int64}
			sum.Applied = state.Applied{Added: ap[0].Int64, Removed: ap[1].Int64, Updated: ap[2].Int64, Refreshed: ap[3].Int64, Failed: ap[4].Int64,
				NotAttempted: ap[5].Int64}
			sum.Platform = platformOf(pStatus, pRate, pSize)
			sum.Started, sum.Finished = fromMicros(sStarted.Int64), fromMicros(sFinished.Int64)
			r.Summaries = append(r.Summaries, sum)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// SizeHistory implements state.RunLog. It lists the destinations that
// succeeded or partly succeeded (partial, or interrupted part-way): after
// an aborted or failed run the audience kept its earlier size, which the
// run's figures do not say.
func (s *Store) SizeHistory(ctx context.Context, scope state.Scope, limit int) ([]state.SizePoint, error) {
	if limit <= 0 {
		limit = defaultSizePoints
	}
	out, err := queryAll(ctx, s.read, func(rows *sql.Rows) (state.SizePoint, error) {
		var (
			p        state.SizePoint
			finished int64
		)
		err := rows.Scan(&p.RunID, &p.Status, &finished, &p.Members)
		p.Finished = fromMicros(finished)
		return p, err
	}, `SELECT run_id, status, finished, members FROM run_summaries
		WHERE scope_id = `+scopeIDSQL+` AND status IN ('succeeded', 'partial', 'interrupted')
		ORDER BY finished DESC, run_id DESC LIMIT ?`, scope.Sync, scope.Destination, limit)
	if err != nil {
		return nil, fmt.Errorf("size history of %s: %w", scopeName(scope), err)
	}
	slices.Reverse(out)
	return out, nil
}

// nullMicros is toMicros with the zero time as NULL, for times that are
// absent rather than unknown.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toMicros(t), Valid: true}
}
