package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
)

// terminate ends every other connection to dsn's database, as a failover,
// a restart or a broken network would: the stores' pools and their lock
// sessions alike.
func terminate(t *testing.T, dsn string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n))
	return n
}

var (
	lockT0  = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	lockTTL = 5 * time.Minute
)

func lockOf(owner string) state.Lock {
	return state.Lock{Name: "sync:buyers", Owner: owner, PID: 100, Host: "node-" + owner, Expires: lockT0.Add(lockTTL)}
}

// TestLostSessionReleasesTheLock has node A hold a sync's lock and lose
// its connections: node B sees the lease ended at A's last heartbeat and
// takes the lock over at once, long before the lease would expire; A's
// next renewal learns it lost the lock.
func TestLostSessionReleasesTheLock(t *testing.T) {
	t.Parallel()
	dsn := database(t)
	a, b := openOn(t, dsn), openOn(t, dsn)
	ctx := t.Context()
	_, err := a.AcquireLock(ctx, lockOf("a"), lockT0)
	require.NoError(t, err)
	_, err = b.AcquireLock(ctx, lockOf("b"), lockT0.Add(time.Second))
	require.ErrorIs(t, err, state.ErrLockHeld, "a live session holds the lock")

	require.Positive(t, terminate(t, dsn))
	// The server drops the sessions' locks as their backends exit.
	require.Eventually(t, func() bool {
		l, err := b.LockHolder(ctx, "sync:buyers")
		return err == nil && !l.Live(lockT0.Add(time.Second))
	}, 10*time.Second, 20*time.Millisecond, "a lease whose session is gone has ended")
	l, err := b.LockHolder(ctx, "sync:buyers")
	require.NoError(t, err)
	require.Equal(t, "a", l.Owner)
	require.Equal(t, l.Heartbeat, l.Expires, "reported as ended at its last heartbeat")

	got, err := b.AcquireLock(ctx, lockOf("b"), lockT0.Add(2*time.Second))
	require.NoError(t, err, "taken over before the lease's expiry")
	require.Equal(t, "b", got.Owner)
	require.ErrorIs(t, a.RenewLock(ctx, "sync:buyers", "a", lockT0.Add(3*time.Second), lockT0.Add(lockTTL)), state.ErrNotLockHolder)
	_, err = a.AcquireLock(ctx, lockOf("a"), lockT0.Add(3*time.Second))
	require.ErrorIs(t, err, state.ErrLockHeld, "b's session is live")
}

// TestLostSessionRenewedByItsHolder has the holder lose its connections
// while nobody else asks: its next renewal opens a new session and keeps
// the lock, which is then live again for everyone.
func TestLostSessionRenewedByItsHolder(t *testing.T) {
	t.Parallel()
	dsn := database(t)
	a, b := openOn(t, dsn), openOn(t, dsn)
	ctx := t.Context()
	held, err := a.AcquireLock(ctx, lockOf("a"), lockT0)
	require.NoError(t, err)
	require.Positive(t, terminate(t, dsn))
	beat := lockT0.Add(time.Minute)
	require.NoError(t, a.RenewLock(ctx, "sync:buyers", "a", beat, beat.Add(lockTTL)))
	l, err := b.LockHolder(ctx, "sync:buyers")
	require.NoError(t, err)
	held.Heartbeat, held.Expires = beat, beat.Add(lockTTL)
	require.Equal(t, held, l)
	_, err = b.AcquireLock(ctx, lockOf("b"), beat.Add(time.Second))
	require.ErrorIs(t, err, state.ErrLockHeld)
	require.NoError(t, a.ReleaseLock(ctx, "sync:buyers", "a"))
	_, err = b.AcquireLock(ctx, lockOf("b"), beat.Add(time.Second))
	require.NoError(t, err)
}

// TestStoreSurvivesLostConnections ends every connection of a store that
// has some open, and checks each part works again on the next call: the
// pool connects anew.
func TestStoreSurvivesLostConnections(t *testing.T) {
	t.Parallel()
	dsn := database(t)
	s := openOn(t, dsn)
	ctx := t.Context()
	scope := state.Scope{Sync: "buyers", Destination: "google"}
	commit := func(from, to int) error {
		changes := make([]state.Change, 0, to-from)
		for i := from; i < to; i++ {
			changes = append(changes, state.Change{Key: audience.KeyFromSource(strings.Repeat("k", i%7+1) + string(rune('a'+i%26)) + time.Duration(i).String()), LastSent: lockT0})
		}
		return s.Commit(ctx, scope, changes)
	}
	require.NoError(t, commit(0, 500))
	// Several connections busy at once, so the pool holds several.
	errs := make(chan error, 4)
	for range 4 {
		go func() { _, err := s.Count(ctx, scope); errs <- err }()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	for round := range 3 {
		require.Positive(t, terminate(t, dsn))
		// A read that meets a dead connection asks again on a new one; a
		// write's BEGIN that does starts again.
		n, err := s.Count(ctx, scope)
		require.NoError(t, err, "round %d", round)
		require.Equal(t, int64(500+250*min(round, 1)), n)
		require.NoError(t, commit(0, 500), "round %d", round)
		_, err = s.Runs(ctx, state.RunFilter{})
		require.NoError(t, err)
		require.Positive(t, terminate(t, dsn))
		require.NoError(t, commit(250, 750), "a commit after the loss, round %d", round)
	}
}
