package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/internal/record"
)

// ListPending implements state.PendingRequests.
func (s *Store) ListPending(ctx context.Context, scope state.Scope) ([]state.PendingRequest, error) {
	out, err := queryAll(ctx, s.read, record.ScanPending, `SELECT `+record.PendingCols+` FROM pending_requests
		WHERE scope_id = `+scopeIDSQL+` ORDER BY recorded, request_id`, scope.Sync, scope.Destination)
	if err != nil {
		return nil, fmt.Errorf("pending requests of %s: %w", scopeName(scope), err)
	}
	return out, nil
}

// queryAll runs query on db and returns every row as scan reads it.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(record.Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// AddPending implements state.PendingRequests.
func (s *Store) AddPending(ctx context.Context, scope state.Scope, requests []state.PendingRequest) error {
	if len(requests) == 0 {
		return nil
	}
	return s.inScopeTx(ctx, scope, "record pending requests of", func(tx *sql.Tx, scopeID int64) error {
		return addPending(ctx, tx, scopeID, requests)
	})
}

// addPending inserts requests for scopeID, keeping rows already there.
func addPending(ctx context.Context, tx *sql.Tx, scopeID int64, requests []state.PendingRequest) error {
	for _, r := range requests {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pending_requests (scope_id, request_id, kind, recorded)
			VALUES (?, ?, ?, ?) ON CONFLICT (scope_id, request_id) DO NOTHING`,
			scopeID, r.ID, r.Kind, toMicros(r.Recorded)); err != nil {
			return err
		}
	}
	return nil
}

// RemovePending implements state.PendingRequests.
func (s *Store) RemovePending(ctx context.Context, scope state.Scope, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM pending_requests WHERE scope_id = `+scopeIDSQL+` AND request_id = ?`,
				scope.Sync, scope.Destination, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget pending requests of %s: %w", scopeName(scope), err)
	}
	return nil
}
