package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/internal/record"
)

// CreateToken implements state.Tokens. The table's unique name and
// primary key refuse a taken name or id, whoever inserts first.
func (s *Store) CreateToken(ctx context.Context, t state.Token) error {
	if err := t.CheckNew(); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO api_tokens (`+record.TokenCols+`) VALUES ($1, $2, $3, $4, $5, $6)`, record.TokenValues(t)...)
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "23505" { // unique_violation
			return state.ErrTokenExists
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create token %q: %w", t.Name, err)
	}
	return nil
}

// TokenByID implements state.Tokens.
func (s *Store) TokenByID(ctx context.Context, id string) (state.Token, error) {
	t, err := record.ScanToken(s.queryRow(ctx, `SELECT `+record.TokenCols+` FROM api_tokens WHERE id = $1`, id))
	return t, s.rowErr(err, "token %q", id)
}

// ListTokens implements state.Tokens.
func (s *Store) ListTokens(ctx context.Context) ([]state.Token, error) {
	out, err := queryAll(ctx, s, record.ScanToken, `SELECT `+record.TokenCols+` FROM api_tokens ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken implements state.Tokens: a name is tried first, then an id.
func (s *Store) RevokeToken(ctx context.Context, nameOrID string) (state.Token, error) {
	var t state.Token
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		t, err = record.ScanToken(tx.QueryRow(ctx, `DELETE FROM api_tokens WHERE id = (
				SELECT id FROM api_tokens WHERE name = $1 OR id = $1 ORDER BY name = $1 DESC LIMIT 1)
			RETURNING `+record.TokenCols, nameOrID))
		if errors.Is(err, pgx.ErrNoRows) {
			return state.ErrNotFound
		}
		return err
	})
	if err != nil {
		return state.Token{}, fmt.Errorf("revoke token %q: %w", nameOrID, err)
	}
	return t, nil
}

// TouchToken implements state.Tokens.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return execTouching(ctx, tx, state.ErrNotFound, `UPDATE api_tokens SET last_used = $1 WHERE id = $2`, toMicros(at), id)
	})
	if err != nil {
		return fmt.Errorf("record use of token %q: %w", id, err)
	}
	return nil
}

// execTouching runs a statement and returns none if it changed no row.
func execTouching(ctx context.Context, tx pgx.Tx, none error, query string, args ...any) error {
	tag, err := tx.Exec(ctx, query, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return none
	}
	return nil
}

// HoldoutKey implements state.Holdouts: the first key inserted wins,
// and a writer that lost the race reads the winner's in a new statement.
func (s *Store) HoldoutKey(ctx context.Context, sync string, fresh []byte) ([]byte, error) {
	if len(fresh) == 0 {
		return nil, fmt.Errorf("holdout key of %s: a fresh key is required", sync)
	}
	var key []byte
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO holdout_keys (sync, key, created) VALUES ($1, $2, $3) ON CONFLICT (sync) DO NOTHING`,
			sync, fresh, toMicros(time.Now())); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT key FROM holdout_keys WHERE sync = $1`, sync).Scan(&key)
	})
	if err != nil {
		return nil, fmt.Errorf("holdout key of %s: %w", sync, err)
	}
	return key, nil
}

// SetHeldOut implements state.Holdouts.
func (s *Store) SetHeldOut(ctx context.Context, sync, segment string, keys []audience.MemberKey, at time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM held_out WHERE sync = $1 AND segment = $2`, sync, segment); err != nil {
			return err
		}
		return inKeyChunks(keys, func(chunk [][]byte) error {
			_, err := tx.Exec(ctx, `INSERT INTO held_out (sync, segment, key, recorded)
				SELECT $1, $2, k, $4 FROM unnest($3::bytea[]) k ON CONFLICT DO NOTHING`, sync, segment, chunk, toMicros(at))
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("record holdout of %s/%s: %w", sync, segment, err)
	}
	return nil
}

// HeldOut implements state.Holdouts.
func (s *Store) HeldOut(ctx context.Context, sync, segment string) ([]audience.MemberKey, time.Time, error) {
	var at int64
	keys, err := queryAll(ctx, s, func(row record.Scanner) (audience.MemberKey, error) {
		var (
			raw []byte
			k   audience.MemberKey
		)
		if err := row.Scan(&raw, &at); err != nil {
			return k, err
		}
		if len(raw) != len(k) {
			return k, errors.New("a stored key has the wrong size")
		}
		copy(k[:], raw)
		return k, nil
	}, `SELECT key, recorded FROM held_out WHERE sync = $1 AND segment = $2 ORDER BY key`, sync, segment)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read holdout of %s/%s: %w", sync, segment, err)
	}
	if len(keys) == 0 {
		return nil, time.Time{}, nil
	}
	return keys, fromMicros(at), nil
}
