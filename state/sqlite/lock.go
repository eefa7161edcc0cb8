package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/internal/record"
)

var _ state.Locker = (*Store)(nil)

// A lock is one row of the locks table. Every change is a write
// transaction, which SQLite serialises across processes (BEGIN IMMEDIATE,
// see writerParams), so two processes asking at once see each other's row:
// the second finds the first's live lease and is refused.

// AcquireLock implements state.Locker.
func (s *Store) AcquireLock(ctx context.Context, want state.Lock, now time.Time) (state.Lock, error) {
	if err := state.CheckAcquire(want, now); err != nil {
		return state.Lock{}, err
	}
	got := want
	got.Acquired, got.Heartbeat = now, now
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		held, err := record.ScanLock(tx.QueryRowContext(ctx, `SELECT `+record.LockCols+` FROM locks WHERE name = ?`, want.Name))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case held.Owner == want.Owner:
			got.Acquired = held.Acquired // a renewal, not a new hold
		case held.Live(now):
			return &state.HeldError{Holder: held}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO locks (`+record.LockCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host,
				acquired = excluded.acquired, heartbeat = excluded.heartbeat, expires = excluded.expires`,
			record.LockValues(got)...)
		return err
	})
	if err != nil {
		return state.Lock{}, fmt.Errorf("acquire lock %q: %w", want.Name, err)
	}
	return got.Stored(), nil
}

// RenewLock implements state.Locker.
func (s *Store) RenewLock(ctx context.Context, name, owner string, now, expires time.Time) error {
	err := s.ownLock(ctx, owner, `UPDATE locks SET heartbeat = ?, expires = ? WHERE name = ? AND owner = ?`,
		toMicros(now), toMicros(expires), name, owner)
	if err != nil {
		return fmt.Errorf("renew lock %q: %w", name, err)
	}
	return nil
}

// ReleaseLock implements state.Locker.
func (s *Store) ReleaseLock(ctx context.Context, name, owner string) error {
	if err := s.ownLock(ctx, owner, `DELETE FROM locks WHERE name = ? AND owner = ?`, name, owner); err != nil {
		return fmt.Errorf("release lock %q: %w", name, err)
	}
	return nil
}

// ownLock runs a statement that touches the lock only when owner holds it,
// and returns ErrNotLockHolder when it touched nothing.
func (s *Store) ownLock(ctx context.Context, owner, query string, args ...any) error {
	return s.inWriteTx(ctx, func(tx *sql.Tx) error {
		return execTouching(ctx, tx, fmt.Errorf("owner %q: %w", owner, state.ErrNotLockHolder), query, args...)
	})
}

// execTouching runs a statement in tx and returns none if it changed no
// row.
func execTouching(ctx context.Context, tx *sql.Tx, none error, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}

// LockHolder implements state.Locker.
func (s *Store) LockHolder(ctx context.Context, name string) (state.Lock, error) {
	// Asked for each run in progress a listing shows: prepared once.
	l, err := record.ScanLock(s.readRow(ctx, `SELECT `+record.LockCols+` FROM locks WHERE name = ?`, name))
	return l, rowErr(err, "lock %q", name)
}

// rowErr wraps the error of reading one row with what was read, as
// state.ErrNotFound when there was no row; nil stays nil.
func rowErr(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		err = state.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf(format+": %w", append(args, err)...)
	}
	return nil
}
