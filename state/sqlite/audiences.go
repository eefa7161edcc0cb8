package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/audiencesync/audiencesync/state"
)

// AudienceID implements state.Store.
func (s *Store) AudienceID(ctx context.Context, scope state.Scope) (string, error) {
	var id string
	err := s.read.QueryRowContext(ctx, `SELECT remote_id FROM audiences WHERE scope_id = `+scopeIDSQL,
		scope.Sync, scope.Destination).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("audience id of %s: %w", scopeName(scope), state.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("audience id of %s: %w", scopeName(scope), err)
	}
	return id, nil
}

// SetAudienceID implements state.Store.
func (s *Store) SetAudienceID(ctx context.Context, scope state.Scope, id string) error {
	return s.inScopeTx(ctx, scope, "set audience id of", func(tx *sql.Tx, scopeID int64) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audiences (scope_id, remote_id) VALUES (?, ?)
			ON CONFLICT (scope_id) DO UPDATE SET remote_id = excluded.remote_id`, scopeID, id)
		return err
	})
}
