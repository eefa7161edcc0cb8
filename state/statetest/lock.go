package statetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/state"
)

// lockT0 is the suite's time zero; leases run a minute.
var lockT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const lockTTL = time.Minute

func lockFor(owner string, pid int) state.Lock {
	return state.Lock{Name: "sync:cart-abandoners", Owner: owner, PID: pid, Host: "host-" + owner}
}

// acquire takes l at now for one lease and fails the test on error.
func (b *bundle) acquire(t *testing.T, l state.Lock, now time.Time) state.Lock {
	t.Helper()
	l.Expires = now.Add(lockTTL)
	got, err := b.locker.AcquireLock(b.ctx, l, now)
	noError(t, err)
	return got
}

// refused asks for l at now and checks it is refused in favour of holder.
func (b *bundle) refused(t *testing.T, l state.Lock, now time.Time, holder state.Lock) {
	t.Helper()
	l.Expires = now.Add(lockTTL)
	_, err := b.locker.AcquireLock(b.ctx, l, now)
	errorIs(t, err, state.ErrLockHeld)
	var held *state.HeldError
	check(t, errors.As(err, &held), "error %v is not a *HeldError", err)
	requireSame(t, holder, held.Holder, "the refusal names the holder")
	b.holds(t, holder)
}

// holds checks that the recorded lock is want.
func (b *bundle) holds(t *testing.T, want state.Lock) {
	t.Helper()
	got, err := b.locker.LockHolder(b.ctx, want.Name)
	noError(t, err)
	requireSame(t, want, got)
}

func (b *bundle) free(t *testing.T, name string) {
	t.Helper()
	_, err := b.locker.LockHolder(b.ctx, name)
	errorIs(t, err, state.ErrNotFound)
}

func testLockAcquireFree(t *testing.T, b *bundle) {
	got := b.acquire(t, lockFor("a", 101), lockT0)
	want := lockFor("a", 101)
	want.Acquired, want.Heartbeat, want.Expires = lockT0, lockT0, lockT0.Add(lockTTL)
	requireSame(t, want, got, "the lock as acquired")
	b.holds(t, want)
}

func testLockContend(t *testing.T, b *bundle) {
	a := b.acquire(t, lockFor("a", 101), lockT0)
	for _, at := range []time.Duration{0, time.Second, lockTTL - time.Microsecond} {
		b.refused(t, lockFor("b", 202), lockT0.Add(at), a)
	}
}

func testLockReacquireByOwner(t *testing.T, b *bundle) {
	a := b.acquire(t, lockFor("a", 101), lockT0)
	later := lockT0.Add(30 * time.Second)
	again := b.acquire(t, lockFor("a", 101), later)
	check(t, again.Acquired.Equal(a.Acquired), "acquired %s, want it kept at %s", again.Acquired, a.Acquired)
	check(t, again.Heartbeat.Equal(later) && again.Expires.Equal(later.Add(lockTTL)), "re-acquiring renews: %+v", again)
	b.holds(t, again)
}

func testLockRelease(t *testing.T, b *bundle) {
	b.acquire(t, lockFor("a", 101), lockT0)
	noError(t, b.locker.ReleaseLock(b.ctx, "sync:cart-abandoners", "a"))
	b.free(t, "sync:cart-abandoners")
	// Released long before it would expire: the next owner gets it at once.
	at := lockT0.Add(time.Second)
	got := b.acquire(t, lockFor("b", 202), at)
	check(t, got.Owner == "b" && got.Acquired.Equal(at), "lock after release: %+v", got)
	// A second release by the first owner is refused and changes nothing.
	errorIs(t, b.locker.ReleaseLock(b.ctx, "sync:cart-abandoners", "a"), state.ErrNotLockHolder)
	b.holds(t, got)
}

func testLockReleaseByNonOwner(t *testing.T, b *bundle) {
	a := b.acquire(t, lockFor("a", 101), lockT0)
	errorIs(t, b.locker.ReleaseLock(b.ctx, a.Name, "b"), state.ErrNotLockHolder)
	errorIs(t, b.locker.ReleaseLock(b.ctx, a.Name, ""), state.ErrNotLockHolder)
	errorIs(t, b.locker.RenewLock(b.ctx, a.Name, "b", lockT0, lockT0.Add(time.Hour)), state.ErrNotLockHolder)
	b.holds(t, a)
	errorIs(t, b.locker.ReleaseLock(b.ctx, "sync:other", "a"), state.ErrNotLockHolder)
}

func testLockRenewExtends(t *testing.T, b *bundle) {
	a := b.acquire(t, lockFor("a", 101), lockT0)
	beat := lockT0.Add(40 * time.Second)
	noError(t, b.locker.RenewLock(b.ctx, a.Name, "a", beat, beat.Add(lockTTL)))
	a.Heartbeat, a.Expires = beat, beat.Add(lockTTL)
	b.holds(t, a)
	// Past the first lease but inside the renewed one: still refused.
	b.refused(t, lockFor("b", 202), lockT0.Add(lockTTL+time.Second), a)
}

func testLockExpiryTakeover(t *testing.T, b *bundle) {
	a := b.acquire(t, lockFor("a", 101), lockT0)
	// "a" stops renewing (a crash); at its expiry "b" takes the lock over.
	at := a.Expires
	got := b.acquire(t, lockFor("b", 202), at)
	want := lockFor("b", 202)
	want.Acquired, want.Heartbeat, want.Expires = at, at, at.Add(lockTTL)
	requireSame(t, want, got, "the lock taken over")
	b.holds(t, want)
	// The old owner, should it wake up, holds nothing any more.
	errorIs(t, b.locker.RenewLock(b.ctx, a.Name, "a", at, at.Add(lockTTL)), state.ErrNotLockHolder)
	errorIs(t, b.locker.ReleaseLock(b.ctx, a.Name, "a"), state.ErrNotLockHolder)
	b.refused(t, lockFor("a", 101), at.Add(time.Second), want)
}

func testLockRenewExpired(t *testing.T, b *bundle) {
	a := b.acquire(t, lockFor("a", 101), lockT0)
	late := a.Expires.Add(time.Minute)
	noError(t, b.locker.RenewLock(b.ctx, a.Name, "a", late, late.Add(lockTTL)))
	a.Heartbeat, a.Expires = late, late.Add(lockTTL)
	b.holds(t, a)
	b.refused(t, lockFor("b", 202), late, a)
}

func testLockNamesIndependent(t *testing.T, b *bundle) {
	one := b.acquire(t, lockFor("a", 101), lockT0)
	other := lockFor("b", 202)
	other.Name = "sync:other"
	two := b.acquire(t, other, lockT0)
	b.holds(t, one)
	b.holds(t, two)
	noError(t, b.locker.ReleaseLock(b.ctx, one.Name, "a"))
	b.free(t, one.Name)
	b.holds(t, two)
}

func testLockConcurrentAcquire(t *testing.T, b *bundle) {
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		errs    []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := lockFor(fmt.Sprintf("owner-%d", i), 1000+i)
			l.Expires = lockT0.Add(lockTTL)
			_, err := b.locker.AcquireLock(b.ctx, l, lockT0)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				winners = append(winners, l.Owner)
			} else if !errors.Is(err, state.ErrLockHeld) {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	check(t, len(errs) == 0, "unexpected errors: %v", errs)
	check(t, len(winners) == 1, "winners %v, want exactly one", winners)
	got, err := b.locker.LockHolder(b.ctx, "sync:cart-abandoners")
	noError(t, err)
	check(t, got.Owner == winners[0], "holder %s, winner %s", got.Owner, winners[0])
}

func testLockInvalid(t *testing.T, b *bundle) {
	for _, tc := range []struct {
		name string
		want state.Lock
	}{
		{"no name", state.Lock{Owner: "a", Expires: lockT0.Add(lockTTL)}},
		{"no owner", state.Lock{Name: "sync:x", Expires: lockT0.Add(lockTTL)}},
		{"expires now", state.Lock{Name: "sync:x", Owner: "a", Expires: lockT0}},
		{"expired", state.Lock{Name: "sync:x", Owner: "a", Expires: lockT0.Add(-time.Second)}},
	} {
		_, err := b.locker.AcquireLock(b.ctx, tc.want, lockT0)
		isError(t, err, tc.name)
		check(t, !errors.Is(err, state.ErrLockHeld), "%s: %v is not a refusal", tc.name, err)
	}
	b.free(t, "sync:x")
}

func testLockHolderNotFound(t *testing.T, b *bundle) {
	b.free(t, "sync:never-locked")
}
