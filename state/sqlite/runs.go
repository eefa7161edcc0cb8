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
	"github.com/audiencesync/audiencesync/state/internal/record"
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
	if err := s.exec(ctx, `INSERT INTO runs (id, sync, status, started, finished, report, owner, started_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		run.ID, run.Sync, run.Status, toMicros(run.Started), nullMicros(run.Finished), run.Report, run.Owner, run.StartedBy); err != nil {
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_summaries (`+record.SummaryInsertCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			record.SummaryValues(id, scopeID, i, sum)...); err != nil {
			return fmt.Errorf("record summary of destination %q: %w", sum.Destination, err)
		}
	}
	return nil
}

// runsSQL lists runs (the inner select, given by the caller, of
// record.RunCols and report) with their summaries: one row per summary,
// or one row with NULL summary columns for a run without any.
const runsSQL = `SELECT r.id, r.sync, r.status, r.started, r.finished, r.owner, r.started_by, r.report,
		` + record.SummaryCols + `
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
	query := `SELECT ` + record.RunCols + ` FROM runs`
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
		var r record.RunScan
		if err := rows.Scan(r.Dest()...); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r.Done())
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

// readSummaries reads the summaries of the runs ids and hands each to
// add, in each run's recorded order.
func readSummaries(ctx context.Context, tx *sql.Tx, ids []any, add func(id string, sum state.Summary)) error {
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(record.SummariesSQL, `IN (?`+strings.Repeat(`, ?`, len(ids)-1)+`)`), ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return record.ReadSummaries(rows, add)
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
var runByIDSQL = fmt.Sprintf(runsSQL, `SELECT `+record.RunCols+`, report FROM runs WHERE id = ?`)

// scanRuns reads the rows of runsSQL, grouping the summaries by run, and
// closes them.
func scanRuns(rows *sql.Rows) ([]state.Run, error) {
	defer rows.Close()
	var out []state.Run
	for rows.Next() {
		var (
			r   record.RunScan
			sum record.SummaryScan
		)
		if err := rows.Scan(append(append(r.Dest(), &r.Run.Report), sum.Dest()...)...); err != nil {
			return nil, err
		}
		run := r.Done()
		if n := len(out); n > 0 && out[n-1].ID == run.ID {
			run = out[n-1] // another summary of the run before
			out = out[:n-1]
		}
		if sum.Valid() {
			run.Summaries = append(run.Summaries, sum.Summary())
		}
		out = append(out, run)
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
	out, err := queryAll(ctx, s.read, record.ScanSizePoint, `SELECT `+record.SizePointCols+` FROM run_summaries
		WHERE scope_id = `+scopeIDSQL+` AND status IN ('succeeded', 'partial', 'interrupted')
		ORDER BY finished DESC, run_id DESC LIMIT ?`, scope.Sync, scope.Destination, limit)
	if err != nil {
		return nil, fmt.Errorf("size history of %s: %w", scopeName(scope), err)
	}
	slices.Reverse(out)
	return out, nil
}
