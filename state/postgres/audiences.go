package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/internal/record"
)

// scopeIDSQL selects the id of the scope bound to $1 and $2; it is NULL,
// and so matches no row, when the scope was never written.
const scopeIDSQL = `(SELECT id FROM scopes WHERE sync = $1 AND dest = $2)`

// AudienceID implements state.AudienceIDs.
func (s *Store) AudienceID(ctx context.Context, scope state.Scope) (string, error) {
	var id string
	err := s.queryRow(ctx, `SELECT remote_id FROM audiences WHERE scope_id = `+scopeIDSQL, scope.Sync, scope.Destination).Scan(&id)
	if err := s.rowErr(err, "audience id of %s", scopeName(scope)); err != nil {
		return "", err
	}
	return id, nil
}

// SetAudienceID implements state.AudienceIDs.
func (s *Store) SetAudienceID(ctx context.Context, scope state.Scope, id string) error {
	err := s.inScopeTx(ctx, scope, func(tx pgx.Tx, scopeID int64) error {
		_, err := tx.Exec(ctx, `INSERT INTO audiences (scope_id, remote_id) VALUES ($1, $2)
			ON CONFLICT (scope_id) DO UPDATE SET remote_id = excluded.remote_id`, scopeID, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("set audience id of %s: %w", scopeName(scope), err)
	}
	return nil
}

// rowErr wraps the error of reading one row with what was read, as
// state.ErrNotFound when there was no row; nil stays nil.
func (s *Store) rowErr(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		err = state.ErrNotFound
	}
	if err != nil {
		s.connLost(err)
		return fmt.Errorf(format+": %w", append(args, s.scrub(err))...)
	}
	return nil
}

// taintedFP is a tainted member's fingerprint: the zero Fingerprint.
var taintedFP = make([]byte, len(audience.Fingerprint{}))

// Taint implements state.WriteAhead: every key in one transaction.
func (s *Store) Taint(ctx context.Context, scope state.Scope, keys []audience.MemberKey) error {
	if len(keys) == 0 {
		return nil
	}
	id, ok, err := s.scopeID(ctx, scope, false)
	if err == nil && ok {
		err = s.inTx(ctx, func(tx pgx.Tx) error {
			return inKeyChunks(keys, func(chunk [][]byte) error {
				_, err := tx.Exec(ctx, `UPDATE members SET fingerprint = $1 WHERE scope_id = $2 AND key = ANY($3)`, taintedFP, id, chunk)
				return err
			})
		})
	}
	if err != nil {
		return fmt.Errorf("taint %d members of %s: %w", len(keys), scopeName(scope), s.scrub(err))
	}
	return nil
}

// TaintAll implements state.WriteAhead.
func (s *Store) TaintAll(ctx context.Context, scope state.Scope) error {
	if err := s.exec(ctx, `UPDATE members SET fingerprint = $3 WHERE scope_id = `+scopeIDSQL, scope.Sync, scope.Destination, taintedFP); err != nil {
		return fmt.Errorf("taint every member of %s: %w", scopeName(scope), err)
	}
	return nil
}

// Intent implements state.WriteAhead.
func (s *Store) Intent(ctx context.Context, scope state.Scope) ([]byte, error) {
	var intent []byte
	err := s.queryRow(ctx, `SELECT intent FROM intents WHERE scope_id = `+scopeIDSQL, scope.Sync, scope.Destination).Scan(&intent)
	if err := s.rowErr(err, "intent of %s", scopeName(scope)); err != nil {
		return nil, err
	}
	return intent, nil
}

// SetIntent implements state.WriteAhead.
func (s *Store) SetIntent(ctx context.Context, scope state.Scope, intent []byte) error {
	var err error
	if len(intent) == 0 {
		err = s.exec(ctx, `DELETE FROM intents WHERE scope_id = `+scopeIDSQL, scope.Sync, scope.Destination)
	} else {
		err = s.inScopeTx(ctx, scope, func(tx pgx.Tx, scopeID int64) error {
			_, err := tx.Exec(ctx, `INSERT INTO intents (scope_id, intent, recorded) VALUES ($1, $2, $3)
				ON CONFLICT (scope_id) DO UPDATE SET intent = excluded.intent, recorded = excluded.recorded`,
				scopeID, intent, toMicros(time.Now()))
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("record intent of %s: %w", scopeName(scope), err)
	}
	return nil
}

// ListPending implements state.PendingRequests.
func (s *Store) ListPending(ctx context.Context, scope state.Scope) ([]state.PendingRequest, error) {
	out, err := queryAll(ctx, s, record.ScanPending,
		`SELECT `+record.PendingCols+` FROM pending_requests WHERE scope_id = `+scopeIDSQL+` ORDER BY recorded, request_id`,
		scope.Sync, scope.Destination)
	if err != nil {
		return nil, fmt.Errorf("pending requests of %s: %w", scopeName(scope), err)
	}
	return out, nil
}

// queryAll runs query on the pool and returns every row as scan reads it.
func queryAll[T any](ctx context.Context, s *Store, scan func(record.Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, query, args...)
	if err == nil {
		var out []T
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
		if err == nil {
			return out, nil
		}
	}
	s.connLost(err)
	return nil, s.scrub(err)
}

// AddPending implements state.PendingRequests.
func (s *Store) AddPending(ctx context.Context, scope state.Scope, requests []state.PendingRequest) error {
	if len(requests) == 0 {
		return nil
	}
	err := s.inScopeTx(ctx, scope, func(tx pgx.Tx, scopeID int64) error {
		for _, r := range requests {
			if _, err := tx.Exec(ctx, `INSERT INTO pending_requests (scope_id, request_id, kind, recorded)
				VALUES ($1, $2, $3, $4) ON CONFLICT (scope_id, request_id) DO NOTHING`,
				scopeID, r.ID, r.Kind, toMicros(r.Recorded)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record pending requests of %s: %w", scopeName(scope), err)
	}
	return nil
}

// RemovePending implements state.PendingRequests.
func (s *Store) RemovePending(ctx context.Context, scope state.Scope, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.exec(ctx, `DELETE FROM pending_requests WHERE scope_id = `+scopeIDSQL+` AND request_id = ANY($3)`,
		scope.Sync, scope.Destination, ids); err != nil {
		return fmt.Errorf("forget pending requests of %s: %w", scopeName(scope), err)
	}
	return nil
}
