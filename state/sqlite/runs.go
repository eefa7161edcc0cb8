package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/audiencesync/audiencesync/state"
)

// defaultRunsLimit is how many runs Runs lists when asked for limit <= 0.
const defaultRunsLimit = 50

// BeginRun implements state.Store. It records every field of run as given;
// an id that is already recorded is an error.
func (s *Store) BeginRun(ctx context.Context, run state.Run) error {
	if run.ID == "" {
		return errors.New("begin run: empty run id")
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO runs (id, sync, status, started, finished, report, owner) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			run.ID, run.Sync, run.Status, toMicros(run.Started), nullMicros(run.Finished), run.Report, run.Owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("begin run %q: %w", run.ID, err)
	}
	return nil
}

// FinishRun implements state.Store. An unknown id is ErrNotFound.
func (s *Store) FinishRun(ctx context.Context, id, status string, finished time.Time, report []byte) error {
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		return execTouching(ctx, tx, state.ErrNotFound, `UPDATE runs SET status = ?, finished = ?, report = ? WHERE id = ?`,
			status, nullMicros(finished), report, id)
	})
	if err != nil {
		return fmt.Errorf("finish run %q: %w", id, err)
	}
	return nil
}

// Runs implements state.Store. The runs carry their reports, so a listing
// can show counts without one query per run.
func (s *Store) Runs(ctx context.Context, sync string, limit int) ([]state.Run, error) {
	if limit <= 0 {
		limit = defaultRunsLimit
	}
	const cols = `SELECT id, sync, status, started, finished, report, owner FROM runs `
	var (
		rows *sql.Rows
		err  error
	)
	if sync == "" {
		rows, err = s.read.QueryContext(ctx, cols+`ORDER BY started DESC, id DESC LIMIT ?`, limit)
	} else {
		rows, err = s.read.QueryContext(ctx, cols+`WHERE sync = ? ORDER BY started DESC, id DESC LIMIT ?`, sync, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []state.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// Run implements state.Store.
func (s *Store) Run(ctx context.Context, id string) (state.Run, error) {
	row := s.read.QueryRowContext(ctx, `SELECT id, sync, status, started, finished, report, owner FROM runs WHERE id = ?`, id)
	r, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return state.Run{}, fmt.Errorf("run %q: %w", id, state.ErrNotFound)
	}
	if err != nil {
		return state.Run{}, fmt.Errorf("run %q: %w", id, err)
	}
	return r, nil
}

func scanRun(row interface{ Scan(...any) error }) (state.Run, error) {
	var (
		r        state.Run
		started  int64
		finished sql.NullInt64
	)
	if err := row.Scan(&r.ID, &r.Sync, &r.Status, &started, &finished, &r.Report, &r.Owner); err != nil {
		return state.Run{}, err
	}
	r.Started = fromMicros(started)
	if finished.Valid {
		r.Finished = fromMicros(finished.Int64)
	}
	return r, nil
}

// nullMicros is toMicros with the zero time as NULL, for times that are
// absent rather than unknown.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toMicros(t), Valid: true}
}
