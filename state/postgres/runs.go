package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/internal/record"
)

// Run ids order byte-wise (as in the SQLite store), whatever the
// database's collation: the order of Runs and its paging cursor agree.
const byID = `id COLLATE "C"`

// BeginRun implements state.RunLog; an id already recorded is an error.
func (s *Store) BeginRun(ctx context.Context, run state.Run) error {
	if run.ID == "" {
		return errors.New("begin run: empty run id")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO runs (id, sync, status, started, finished, report, owner, started_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			run.ID, run.Sync, run.Status, toMicros(run.Started), nullMicros(run.Finished), run.Report, run.Owner, run.StartedBy)
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "23505" {
			return errors.New("a run with this id is already recorded")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("begin run %q: %w", run.ID, err)
	}
	return nil
}

// FinishRun implements state.RunLog. An unknown id is ErrNotFound.
func (s *Store) FinishRun(ctx context.Context, id, status string, finished time.Time, report []byte, summaries []state.Summary) error {
	var sync string
	err := s.queryRow(ctx, `SELECT sync FROM runs WHERE id = $1`, id).Scan(&sync)
	if err == nil {
		// Scopes first, each in its own statement (see scopeID).
		scopeIDs := make([]int64, len(summaries))
		for i, sum := range summaries {
			if scopeIDs[i], _, err = s.scopeID(ctx, state.Scope{Sync: sync, Destination: sum.Destination}, true); err != nil {
				break
			}
		}
		if err == nil {
			err = s.inTx(ctx, func(tx pgx.Tx) error {
				if err := execTouching(ctx, tx, state.ErrNotFound, `UPDATE runs SET status = $1, finished = $2, report = $3 WHERE id = $4`,
					status, nullMicros(finished), report, id); err != nil {
					return err
				}
				return writeSummaries(ctx, tx, id, scopeIDs, summaries)
			})
		}
	}
	if err := s.rowErr(err, "finish run %q", id); err != nil {
		return err
	}
	return nil
}

// writeSummaries replaces the summaries of run id with summaries, the
// i-th in scope scopeIDs[i].
func writeSummaries(ctx context.Context, tx pgx.Tx, id string, scopeIDs []int64, summaries []state.Summary) error {
	if _, err := tx.Exec(ctx, `DELETE FROM run_summaries WHERE run_id = $1`, id); err != nil {
		return fmt.Errorf("clear summaries: %w", err)
	}
	for i, sum := range summaries {
		if _, err := tx.Exec(ctx, `INSERT INTO run_summaries (`+record.SummaryInsertCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
			record.SummaryValues(id, scopeIDs[i], i, sum)...); err != nil {
			return fmt.Errorf("record summary of destination %q: %w", sum.Destination, err)
		}
	}
	return nil
}

// Runs implements state.RunLog: the page of runs, then their summaries,
// in one snapshot.
func (s *Store) Runs(ctx context.Context, f state.RunFilter) ([]state.Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Sync != "" {
		where = append(where, `sync = `+arg(f.Sync))
	}
	if len(f.Statuses) > 0 {
		where = append(where, `status = ANY(`+arg(f.Statuses)+`)`)
	}
	if !f.Since.IsZero() {
		where = append(where, `started >= `+arg(toMicros(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, `started < `+arg(toMicros(f.Until)))
	}
	if c := f.After; c != nil {
		at := arg(toMicros(c.Started))
		where = append(where, `(started < `+at+` OR (started = `+at+` AND `+byID+` < `+arg(c.ID)+`))`)
	}
	query := `SELECT ` + record.RunCols + ` FROM runs`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY started DESC, ` + byID + ` DESC LIMIT ` + arg(limit)

	var out []state.Run
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (state.Run, error) {
			var r record.RunScan
			err := row.Scan(r.Dest()...)
			return r.Done(), err
		})
		if err != nil || len(out) == 0 {
			return err
		}
		at := make(map[string]int, len(out))
		ids := make([]string, len(out))
		for i, r := range out {
			at[r.ID], ids[i] = i, r.ID
		}
		return readSummaries(ctx, tx, ids, func(id string, sum state.Summary) {
			out[at[id]].Summaries = append(out[at[id]].Summaries, sum)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// readSummaries reads the summaries of the runs ids and hands each to
// add, in each run's recorded order.
func readSummaries(ctx context.Context, tx pgx.Tx, ids []string, add func(id string, sum state.Summary)) error {
	rows, err := tx.Query(ctx, fmt.Sprintf(record.SummariesSQL, `= ANY($1)`), ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	return record.ReadSummaries(rows, add)
}

// Run implements state.RunLog.
func (s *Store) Run(ctx context.Context, id string) (state.Run, error) {
	var r state.Run
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		var scan record.RunScan
		if err := tx.QueryRow(ctx, `SELECT `+record.RunCols+`, report FROM runs WHERE id = $1`, id).
			Scan(append(scan.Dest(), &scan.Run.Report)...); err != nil {
			return err
		}
		r = scan.Done()
		return readSummaries(ctx, tx, []string{id}, func(_ string, sum state.Summary) { r.Summaries = append(r.Summaries, sum) })
	})
	if err := s.rowErr(err, "run %q", id); err != nil {
		return state.Run{}, err
	}
	return r, nil
}

// SizeHistory implements state.RunLog: the destinations that succeeded
// or partly succeeded; after an aborted or failed run the audience kept
// its earlier size, which that run's figures do not say.
func (s *Store) SizeHistory(ctx context.Context, scope state.Scope, limit int) ([]state.SizePoint, error) {
	if limit <= 0 {
		limit = 500
	}
	out, err := queryAll(ctx, s, record.ScanSizePoint, `SELECT `+record.SizePointCols+` FROM run_summaries
		WHERE scope_id = `+scopeIDSQL+` AND status IN ('succeeded', 'partial', 'interrupted')
		ORDER BY finished DESC, run_id COLLATE "C" DESC LIMIT $3`, scope.Sync, scope.Destination, limit)
	if err != nil {
		return nil, fmt.Errorf("size history of %s: %w", scopeName(scope), err)
	}
	slices.Reverse(out)
	return out, nil
}
