package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/audiencesync/audiencesync/audience"
)

// HoldoutKey implements state.Holdouts.
func (s *Store) HoldoutKey(ctx context.Context, sync string, fresh []byte) ([]byte, error) {
	if len(fresh) == 0 {
		return nil, fmt.Errorf("holdout key of %s: a fresh key is required", sync)
	}
	var key []byte
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		// In the write transaction: a second process creating the key at
		// the same time inserts nothing and reads the first one's.
		if _, err := tx.ExecContext(ctx, `INSERT INTO holdout_keys (sync, key, created) VALUES (?, ?, ?) ON CONFLICT (sync) DO NOTHING`,
			sync, fresh, toMicros(time.Now())); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT key FROM holdout_keys WHERE sync = ?`, sync).Scan(&key)
	})
	if err != nil {
		return nil, fmt.Errorf("holdout key of %s: %w", sync, err)
	}
	return key, nil
}

// SetHeldOut implements state.Holdouts.
func (s *Store) SetHeldOut(ctx context.Context, sync, segment string, keys []audience.MemberKey, at time.Time) error {
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM held_out WHERE sync = ? AND segment = ?`, sync, segment); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO held_out (sync, segment, key, recorded) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, k := range keys {
			if _, err := stmt.ExecContext(ctx, sync, segment, k[:], toMicros(at)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record holdout of %s/%s: %w", sync, segment, err)
	}
	return nil
}

// HeldOut implements state.Holdouts.
func (s *Store) HeldOut(ctx context.Context, sync, segment string) ([]audience.MemberKey, time.Time, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT key, recorded FROM held_out WHERE sync = ? AND segment = ? ORDER BY key`, sync, segment)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read holdout of %s/%s: %w", sync, segment, err)
	}
	defer rows.Close()
	var (
		keys []audience.MemberKey
		at   int64
	)
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw, &at); err != nil {
			return nil, time.Time{}, fmt.Errorf("read holdout of %s/%s: %w", sync, segment, err)
		}
		var k audience.MemberKey
		if len(raw) != len(k) {
			return nil, time.Time{}, fmt.Errorf("read holdout of %s/%s: %w", sync, segment, errors.New("a stored key has the wrong size"))
		}
		copy(k[:], raw)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("read holdout of %s/%s: %w", sync, segment, err)
	}
	if len(keys) == 0 {
		return nil, time.Time{}, nil
	}
	return keys, fromMicros(at), nil
}
