package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/internal/record"
)

var _ state.Locker = (*Store)(nil)

// A lock is a lease row of the locks table (see the package doc). Every
// change to a lock's row runs in a transaction that first takes the
// transaction advisory lock (classLockName, hashtext(name)), so two nodes
// asking at once queue and the second sees the first's row. The holder
// keeps the session advisory lock (classLease, lease) on a connection of
// its own, the lease's session, for as long as it holds the lock.

// leaseSession is the connection on which this store's holder of a lock
// keeps its lease's advisory lock. It is used under Store.leaseMu only.
type leaseSession struct {
	owner string
	lease int32
	conn  *pgx.Conn
}

// close ends the session, which releases its advisory lock.
func (l *leaseSession) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.conn.Close(ctx)
}

// lockCols are a lock row's columns: those of the SQLite store, and
// the lease number.
const lockCols = record.LockCols + `, lease`

// leaseHeld is an expression, true while the session advisory lock of
// the lease numbered by the expression lease is held, by any session of
// this database.
func leaseHeld(lease string) string {
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid = %d::int8::oid AND objid = (%s)::int8::oid AND objsubid = 2)`, classLease, lease)
}

// AcquireLock implements state.Locker. Beyond the lease's expiry, a
// holder whose lease session is gone (its connection ended) has released
// the lock.
func (s *Store) AcquireLock(ctx context.Context, want state.Lock, now time.Time) (state.Lock, error) {
	if err := state.CheckAcquire(want, now); err != nil {
		return state.Lock{}, err
	}
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	got := want
	got.Acquired, got.Heartbeat = now, now
	if sess := s.sessions[want.Name]; sess != nil && sess.owner == want.Owner {
		// A renewal by this store's holder, on its session.
		acquired, err := s.renewOn(ctx, sess, want.Name, want.Owner, now, want.Expires, &want)
		if err == nil {
			got.Acquired = acquired
			return got.Stored(), nil
		}
		// A lost session or a lease taken over: ask as anyone would.
		if !errors.Is(err, errSessionLost) && !errors.Is(err, state.ErrNotLockHolder) {
			return state.Lock{}, fmt.Errorf("acquire lock %q: %w", want.Name, s.scrub(err))
		}
	}
	// A lock another owner holds live is refused without opening a
	// session: a waiting run asks every half second.
	held, alive, err := s.readLockLive(ctx, want.Name)
	if err == nil && held.Owner != want.Owner && held.Live(now) && alive {
		return state.Lock{}, fmt.Errorf("acquire lock %q: %w", want.Name, &state.HeldError{Holder: held})
	}
	err = s.withNewSession(ctx, want.Name, want.Owner, func(tx pgx.Tx, lease int32) error {
		held, heldLease, err := readLock(ctx, tx, want.Name)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case held.Owner == want.Owner:
			got.Acquired = held.Acquired // a renewal, not a new hold
		case held.Live(now):
			alive, err := sessionAlive(ctx, tx, heldLease)
			if err != nil {
				return err
			}
			if alive {
				return &state.HeldError{Holder: held}
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO locks (`+lockCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host,
				acquired = excluded.acquired, heartbeat = excluded.heartbeat, expires = excluded.expires, lease = excluded.lease`,
			append(record.LockValues(got), lease)...)
		return err
	})
	if err != nil {
		return state.Lock{}, fmt.Errorf("acquire lock %q: %w", want.Name, s.scrub(err))
	}
	return got.Stored(), nil
}

// errSessionLost says a lease session's connection is gone.
var errSessionLost = errors.New("the lock's session connection was lost")

// renewOn renews name for owner on sess, its session, and returns the
// lease's Acquired; with who set, it records who's pid and host too. It
// returns ErrNotLockHolder (and ends the session) when the row is not
// sess's lease any more, and errSessionLost (ending it too) when the
// session's connection broke.
func (s *Store) renewOn(ctx context.Context, sess *leaseSession, name, owner string, now, expires time.Time, who *state.Lock) (time.Time, error) {
	var acquired int64
	err := pgx.BeginFunc(ctx, sess.conn, func(tx pgx.Tx) error {
		if err := lockName(ctx, tx, name); err != nil {
			return err
		}
		query, args := `UPDATE locks SET heartbeat = $1, expires = $2 WHERE name = $3 AND owner = $4 AND lease = $5 RETURNING acquired`,
			[]any{toMicros(now), toMicros(expires), name, owner, sess.lease}
		if who != nil {
			query, args = `UPDATE locks SET heartbeat = $1, expires = $2, pid = $6, host = $7 WHERE name = $3 AND owner = $4 AND lease = $5
				RETURNING acquired`, append(args, who.PID, who.Host)
		}
		return tx.QueryRow(ctx, query, args...).Scan(&acquired)
	})
	switch {
	case err == nil:
		return fromMicros(acquired), nil
	case errors.Is(err, pgx.ErrNoRows):
		s.endSession(name, sess)
		return time.Time{}, fmt.Errorf("owner %q: %w", owner, state.ErrNotLockHolder)
	case sess.conn.IsClosed() || isConnLost(err):
		s.endSession(name, sess)
		return time.Time{}, errSessionLost
	}
	return time.Time{}, err
}

// withNewSession opens a lease session, runs fn in a transaction on it
// with a new lease number whose session lock it holds, and, when fn
// succeeds and the transaction commits, makes it this store's session of
// name (ending any other). Otherwise the session ends, and its lock with
// it.
func (s *Store) withNewSession(ctx context.Context, name, owner string, fn func(tx pgx.Tx, lease int32) error) error {
	conn, err := pgx.ConnectConfig(ctx, s.connCfg)
	if err != nil {
		return fmt.Errorf("open the lock's session: %w", err)
	}
	sess := &leaseSession{owner: owner, conn: conn}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := lockName(ctx, tx, name); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT nextval('lock_leases')::integer`).Scan(&sess.lease); err != nil {
			return fmt.Errorf("number the lease: %w", err)
		}
		// Session level: it outlives this transaction, until the
		// connection ends. The number is new, so nobody else holds it.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, classLease, sess.lease); err != nil {
			return fmt.Errorf("lock the lease: %w", err)
		}
		return fn(tx, sess.lease)
	})
	if err != nil {
		sess.close()
		return err
	}
	if old := s.sessions[name]; old != nil {
		old.close()
	}
	s.sessions[name] = sess
	return nil
}

// endSession ends sess if it is still this store's session of name.
func (s *Store) endSession(name string, sess *leaseSession) {
	if s.sessions[name] == sess {
		delete(s.sessions, name)
	}
	sess.close()
}

// lockName takes the transaction advisory lock that serialises changes
// to the lock called name.
func lockName(ctx context.Context, tx pgx.Tx, name string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, classLockName, name); err != nil {
		return fmt.Errorf("serialise the lock's changes: %w", err)
	}
	return nil
}

// sessionAlive reports whether lease's session still holds its lock.
func sessionAlive(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, lease int32) (bool, error) {
	var alive bool
	if err := q.QueryRow(ctx, `SELECT `+leaseHeld("$1"), lease).Scan(&alive); err != nil {
		return false, fmt.Errorf("look for the holder's session: %w", err)
	}
	return alive, nil
}

// RenewLock implements state.Locker. A holder whose session was lost (its
// connection broke) gets a new session, if nobody took the lease over.
func (s *Store) RenewLock(ctx context.Context, name, owner string, now, expires time.Time) error {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	err := errSessionLost
	if sess := s.sessions[name]; sess != nil && sess.owner == owner {
		_, err = s.renewOn(ctx, sess, name, owner, now, expires, nil)
	}
	if errors.Is(err, errSessionLost) {
		err = s.withNewSession(ctx, name, owner, func(tx pgx.Tx, lease int32) error {
			return execTouching(ctx, tx, fmt.Errorf("owner %q: %w", owner, state.ErrNotLockHolder),
				`UPDATE locks SET heartbeat = $1, expires = $2, lease = $3 WHERE name = $4 AND owner = $5`,
				toMicros(now), toMicros(expires), lease, name, owner)
		})
	}
	if err != nil {
		return fmt.Errorf("renew lock %q: %w", name, s.scrub(err))
	}
	return nil
}

// ReleaseLock implements state.Locker.
func (s *Store) ReleaseLock(ctx context.Context, name, owner string) error {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockName(ctx, tx, name); err != nil {
			return err
		}
		return execTouching(ctx, tx, fmt.Errorf("owner %q: %w", owner, state.ErrNotLockHolder),
			`DELETE FROM locks WHERE name = $1 AND owner = $2`, name, owner)
	})
	if sess := s.sessions[name]; sess != nil && sess.owner == owner && (err == nil || errors.Is(err, state.ErrNotLockHolder)) {
		s.endSession(name, sess)
	}
	if err != nil {
		return fmt.Errorf("release lock %q: %w", name, err)
	}
	return nil
}

// LockHolder implements state.Locker. A lease whose session is gone is
// reported as ended at its last heartbeat: its holder released it by
// losing its connection, and the next AcquireLock takes it over.
func (s *Store) LockHolder(ctx context.Context, name string) (state.Lock, error) {
	l, alive, err := s.readLockLive(ctx, name)
	if err := s.rowErr(err, "lock %q", name); err != nil {
		return state.Lock{}, err
	}
	if !alive && l.Expires.After(l.Heartbeat) {
		l.Expires = l.Heartbeat
	}
	return l, nil
}

// readLockLive reads the row of lock name on the pool, and whether its
// lease's session still holds its advisory lock.
func (s *Store) readLockLive(ctx context.Context, name string) (state.Lock, bool, error) {
	var alive bool
	l, _, err := scanLock(s.queryRow(ctx, `SELECT `+lockCols+`, `+leaseHeld("lease")+` FROM locks WHERE name = $1`, name), &alive)
	return l, alive, err
}

// readLock reads the row of lock name in tx.
func readLock(ctx context.Context, tx pgx.Tx, name string) (state.Lock, int32, error) {
	return scanLock(tx.QueryRow(ctx, `SELECT `+lockCols+` FROM locks WHERE name = $1`, name))
}

// scanLock reads one row of lockCols, then into more.
func scanLock(row pgx.Row, more ...any) (state.Lock, int32, error) {
	var lease int32
	l, err := record.ScanLock(row, append([]any{&lease}, more...)...)
	if err != nil {
		return state.Lock{}, 0, err
	}
	return l, lease, nil
}
