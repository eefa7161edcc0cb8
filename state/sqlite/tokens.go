package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/internal/record"
)

// CreateToken implements state.Tokens.
func (s *Store) CreateToken(ctx context.Context, t state.Token) error {
	if err := t.CheckNew(); err != nil {
		return err
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		// Checked in the write transaction, so no other writer can take
		// the name between the check and the insert.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens WHERE name = ? OR id = ?`, t.Name, t.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return state.ErrTokenExists
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (`+record.TokenCols+`) VALUES (?, ?, ?, ?, ?, ?)`, record.TokenValues(t)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("create token %q: %w", t.Name, err)
	}
	return nil
}

// TokenByID implements state.Tokens.
func (s *Store) TokenByID(ctx context.Context, id string) (state.Token, error) {
	// Every API request looks its token up: prepared once.
	t, err := record.ScanToken(s.readRow(ctx, `SELECT `+record.TokenCols+` FROM api_tokens WHERE id = ?`, id))
	return t, rowErr(err, "token %q", id)
}

// ListTokens implements state.Tokens.
func (s *Store) ListTokens(ctx context.Context) ([]state.Token, error) {
	out, err := queryAll(ctx, s.read, record.ScanToken, `SELECT `+record.TokenCols+` FROM api_tokens ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken implements state.Tokens.
func (s *Store) RevokeToken(ctx context.Context, nameOrID string) (state.Token, error) {
	var t state.Token
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = record.ScanToken(tx.QueryRowContext(ctx, `SELECT `+record.TokenCols+` FROM api_tokens WHERE name = ?
			UNION ALL SELECT `+record.TokenCols+` FROM api_tokens WHERE id = ? AND name != ? LIMIT 1`, nameOrID, nameOrID, nameOrID))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = ?`, t.ID)
		return err
	})
	if err := rowErr(err, "revoke token %q", nameOrID); err != nil {
		return state.Token{}, err
	}
	return t, nil
}

// TouchToken implements state.Tokens.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		return execTouching(ctx, tx, state.ErrNotFound, `UPDATE api_tokens SET last_used = ? WHERE id = ?`, toMicros(at), id)
	})
	if err != nil {
		return fmt.Errorf("record use of token %q: %w", id, err)
	}
	return nil
}
