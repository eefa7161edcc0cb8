package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Lock is a named lease held by one owner until it is released or expires.
// A holder keeps it by renewing it (a heartbeat) before Expires; a lock
// whose holder stopped renewing, say a process killed with SIGKILL, is taken
// over by the next owner that asks after Expires.
type Lock struct {
	// Name says what is locked (the service layer uses one lock per sync).
	Name string
	// Owner identifies the holder uniquely, across processes and hosts.
	Owner string
	// PID and Host say where the holder runs, for messages to people.
	PID  int
	Host string
	// Acquired is when Owner took the lock; Heartbeat when it last renewed
	// it; Expires when another owner may take it over.
	Acquired  time.Time
	Heartbeat time.Time
	Expires   time.Time
}

// Live reports whether the lock's lease still runs at now.
func (l Lock) Live(now time.Time) bool { return now.Before(l.Expires) }

// ErrLockHeld is wrapped by the error Locker.AcquireLock returns when
// another owner holds a live lease; errors.As finds a *HeldError with the
// holder.
var ErrLockHeld = errors.New("lock is held by another owner")

// ErrNotLockHolder is returned by RenewLock and ReleaseLock when the owner
// does not hold the lock (any more): it was released, or it expired and
// another owner took it over. A holder that gets it on renewal must stop
// what the lock protects.
var ErrNotLockHolder = errors.New("lock is not held by this owner")

// HeldError says who holds a lock that could not be acquired.
type HeldError struct {
	Holder Lock
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("lock %q is held by %s (pid %d on %s) until %s", e.Holder.Name, e.Holder.Owner,
		e.Holder.PID, e.Holder.Host, e.Holder.Expires.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrLockHeld) hold.
func (e *HeldError) Unwrap() error { return ErrLockHeld }

// Locker keeps named locks that work across processes sharing the store.
// Times are the caller's clock; implementations compare them, they do not
// read a clock of their own, so every holder of one store must use clocks
// that roughly agree (one host, or hosts kept in sync by NTP). All methods
// are safe for concurrent use.
type Locker interface {
	// AcquireLock takes want.Name for want.Owner, with want.PID, want.Host
	// and want.Expires, and returns the lock as now recorded. It succeeds
	// when nobody holds the lock, when the holder's lease expired at or
	// before now (the holder is taken over), or when want.Owner holds it
	// already (the lease is renewed and Acquired kept). Otherwise it
	// changes nothing and returns a *HeldError naming the holder.
	AcquireLock(ctx context.Context, want Lock, now time.Time) (Lock, error)
	// RenewLock records a heartbeat at now and moves the expiry of name to
	// expires, if owner holds it; otherwise it returns ErrNotLockHolder. An
	// expired lease no other owner took over is still owner's to renew.
	RenewLock(ctx context.Context, name, owner string, now, expires time.Time) error
	// ReleaseLock releases name if owner holds it; otherwise it changes
	// nothing and returns ErrNotLockHolder.
	ReleaseLock(ctx context.Context, name, owner string) error
	// LockHolder returns the lock on name as recorded, live or expired, or
	// ErrNotFound when nobody holds it.
	LockHolder(ctx context.Context, name string) (Lock, error)
}

// CheckAcquire says what is wrong with a request to acquire want at now,
// or nil: the name and the owner must be set, and the lease must end
// after now. Implementations of Locker refuse such requests with it.
func CheckAcquire(want Lock, now time.Time) error {
	if want.Name == "" || want.Owner == "" {
		return fmt.Errorf("acquire lock %q for %q: the name and the owner must be set", want.Name, want.Owner)
	}
	if !want.Expires.After(now) {
		return fmt.Errorf("acquire lock %q: expiry %s is not after now (%s)", want.Name,
			want.Expires.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// Stored returns l with its times as the stores keep them (whole
// microseconds, UTC; see UnixMicros), so that what AcquireLock returns
// equals what LockHolder reads back.
func (l Lock) Stored() Lock {
	l.Acquired = FromUnixMicros(UnixMicros(l.Acquired))
	l.Heartbeat = FromUnixMicros(UnixMicros(l.Heartbeat))
	l.Expires = FromUnixMicros(UnixMicros(l.Expires))
	return l
}
