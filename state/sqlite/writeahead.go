package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
)

// taintedFP is what a tainted member's fingerprint column holds: the zero
// state.Fingerprint, sixteen zero bytes.
var taintedFP = make([]byte, len(audience.Fingerprint{}))

const taintAllSQL = `UPDATE members SET fingerprint = ? WHERE scope_id = ` + scopeIDSQL

// taintChunk is how many keys one taint statement names.
const taintChunk = 500

func taintQuery(n int) string {
	return `UPDATE members SET fingerprint = ? WHERE scope_id = ? AND key IN (?` + strings.Repeat(`, ?`, n-1) + `)`
}

var taintSQL = taintQuery(taintChunk)

// Taint implements state.WriteAhead: every key in one transaction.
func (s *Store) Taint(ctx context.Context, scope state.Scope, keys []audience.MemberKey) error {
	if len(keys) == 0 {
		return nil
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM scopes WHERE sync = ? AND dest = ?`, scope.Sync, scope.Destination).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // nothing committed, nothing to taint
		}
		if err != nil {
			return err
		}
		return inKeyChunks(keys, taintChunk, []any{taintedFP, id}, func(n int, args []any) error {
			query := taintSQL
			if n < taintChunk {
				query = taintQuery(n)
			}
			_, err := tx.ExecContext(ctx, query, args...)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("taint %d members of %s: %w", len(keys), scopeName(scope), err)
	}
	return nil
}

// TaintAll implements state.WriteAhead.
func (s *Store) TaintAll(ctx context.Context, scope state.Scope) error {
	if err := s.exec(ctx, taintAllSQL, taintedFP, scope.Sync, scope.Destination); err != nil {
		return fmt.Errorf("taint every member of %s: %w", scopeName(scope), err)
	}
	return nil
}

// Intent implements state.WriteAhead.
func (s *Store) Intent(ctx context.Context, scope state.Scope) ([]byte, error) {
	var intent []byte
	err := s.read.QueryRowContext(ctx, `SELECT intent FROM intents WHERE scope_id = `+scopeIDSQL,
		scope.Sync, scope.Destination).Scan(&intent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("intent of %s: %w", scopeName(scope), state.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("intent of %s: %w", scopeName(scope), err)
	}
	return intent, nil
}

// SetIntent implements state.WriteAhead.
func (s *Store) SetIntent(ctx context.Context, scope state.Scope, intent []byte) error {
	if len(intent) == 0 {
		if err := s.exec(ctx, `DELETE FROM intents WHERE scope_id = `+scopeIDSQL, scope.Sync, scope.Destination); err != nil {
			return fmt.Errorf("record intent of %s: %w", scopeName(scope), err)
		}
		return nil
	}
	return s.inScopeTx(ctx, scope, "record intent of", func(tx *sql.Tx, scopeID int64) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO intents (scope_id, intent, recorded) VALUES (?, ?, ?)
			ON CONFLICT (scope_id) DO UPDATE SET intent = excluded.intent, recorded = excluded.recorded`,
			scopeID, intent, toMicros(time.Now()))
		return err
	})
}
