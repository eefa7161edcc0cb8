package syncs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/state"
)

// ErrBusy is wrapped by a *BusyError: the sync is running elsewhere.
var ErrBusy = errors.New("the sync is already running")

// BusyError is returned by Run when another run holds the sync's lock and
// did not release it within RunOptions.Wait.
type BusyError struct {
	Sync   string
	Holder state.Lock
	// Waited is how long Run waited for the lock.
	Waited time.Duration
}

const humanTime = "2006-01-02 15:04:05 UTC"

func (e *BusyError) Error() string {
	waited := ""
	if e.Waited > 0 {
		waited = fmt.Sprintf(" (waited %s)", e.Waited)
	}
	return fmt.Sprintf("sync %s is already running%s: process %d on host %s has held its lock since %s, last heartbeat %s. "+
		"Let that run finish, then run again. If that process is gone (killed or crashed), its lock expires at %s "+
		"and the next run takes it over",
		e.Sync, waited, e.Holder.PID, e.Holder.Host, e.Holder.Acquired.UTC().Format(humanTime),
		e.Holder.Heartbeat.UTC().Format(humanTime), e.Holder.Expires.UTC().Format(humanTime))
}

// Unwrap makes errors.Is(err, ErrBusy) hold.
func (e *BusyError) Unwrap() error { return ErrBusy }

// errLockLost cancels a run whose lock another run took over.
var errLockLost = errors.New("the sync's lock was lost (not renewed in time, and another run took it over): " +
	"this run stopped; what it had committed stays and the run holding the lock carries on from there")

// lockName is the name of a sync's lock in the state store.
func lockName(sync string) string { return "sync:" + sync }

// lockPoll is how often a waiting Run asks for the lock again, at most.
const lockPoll = 500 * time.Millisecond

// heldLock is a sync lock held by one Run, renewed until release.
type heldLock struct {
	s      *Service
	sync   string
	locker state.Locker
	lock   state.Lock
	stop   chan struct{}
	done   chan struct{}
}

// lockSync takes the sync's lock for a new owner, waiting up to wait for
// another holder to release it or for its lease to expire.
func (s *Service) lockSync(ctx context.Context, locker state.Locker, sync string, wait time.Duration) (*heldLock, error) {
	want := state.Lock{
		Name:  lockName(sync),
		Owner: s.ownerPrefix() + s.id + "-" + strconv.FormatUint(s.runSeq.Add(1), 10),
		PID:   s.pid,
		Host:  s.host,
	}
	poll := min(lockPoll, s.lockTTL/4)
	deadline := time.Now().Add(wait)
	logged := false
	for {
		now := s.now()
		want.Expires = now.Add(s.lockTTL)
		got, err := locker.AcquireLock(ctx, want, now)
		if err == nil {
			return &heldLock{s: s, sync: sync, locker: locker, lock: got}, nil
		}
		left := time.Until(deadline)
		var held *state.HeldError
		switch {
		case errors.As(err, &held):
			if s.deadLocalHolder(held.Holder) {
				// Its process is gone: nobody will renew the lease, so
				// waiting out its expiry would only delay this run.
				if rerr := locker.ReleaseLock(ctx, held.Holder.Name, held.Holder.Owner); rerr == nil || errors.Is(rerr, state.ErrNotLockHolder) {
					s.log.Info("sync lock held by a process that is gone: taking it over", zap.String("sync", sync),
						zap.Int("holder_pid", held.Holder.PID), zap.Time("held_since", held.Holder.Acquired))
					continue
				}
			}
			if left <= 0 {
				return nil, &BusyError{Sync: sync, Holder: held.Holder, Waited: wait}
			}
			if !logged {
				logged = true
				s.log.Info("sync is running elsewhere: waiting for its lock", zap.String("sync", sync),
					zap.Int("holder_pid", held.Holder.PID), zap.String("holder_host", held.Holder.Host),
					zap.Time("held_since", held.Holder.Acquired), zap.Duration("wait", wait))
			}
		case left <= 0 || ctx.Err() != nil:
			return nil, fmt.Errorf("lock sync %s: %w", sync, err)
		default:
			// The store could not answer (SQLite's busy timeout runs out
			// when another process's writes keep the database locked
			// back to back): ask again while the wait lasts.
			s.log.Warn("ask for the sync's lock: trying again", zap.String("sync", sync), zap.Error(err))
		}
		t := time.NewTimer(min(poll, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for the lock of sync %s: %w", sync, ctx.Err())
		case <-t.C:
		}
	}
}

// ownerPrefix marks lock owners with this process's PID namespace, so a
// later process can tell that a holder's pid is one it may look up.
func (s *Service) ownerPrefix() string {
	if s.pidNS == "" {
		return ""
	}
	return s.pidNS + "/"
}

// deadLocalHolder reports whether holder is a process of this host and PID
// namespace that no longer exists (killed with SIGKILL, crashed): its lock
// may be taken over at once rather than when its lease expires. A holder
// elsewhere, or one whose pid cannot be checked, is left to expire.
func (s *Service) deadLocalHolder(holder state.Lock) bool {
	if s.pidNS == "" || holder.Host != s.host || holder.PID == s.pid ||
		!strings.HasPrefix(holder.Owner, s.ownerPrefix()) {
		return false
	}
	return processGone(holder.PID)
}

// keep renews the lock every third of its lifetime until release, and
// cancels the run with errLockLost if another owner took it over.
func (h *heldLock) keep(ctx context.Context, cancel context.CancelCauseFunc) {
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	every := h.s.lockTTL / 3
	go func() {
		defer close(h.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
			now := h.s.now()
			err := h.locker.RenewLock(context.WithoutCancel(ctx), h.lock.Name, h.lock.Owner, now, now.Add(h.s.lockTTL))
			switch {
			case errors.Is(err, state.ErrNotLockHolder):
				h.s.log.Error("sync lock lost: stopping the run", zap.String("lock", h.lock.Name), zap.Error(err))
				cancel(errLockLost)
				return
			case err != nil:
				// Try again at the next tick: the lease outlasts two
				// missed renewals.
				h.s.log.Warn("renew sync lock", zap.String("lock", h.lock.Name), zap.Error(err))
			}
		}
	}()
}

// releaseTimeout bounds releasing a lock after the run's context ended.
const releaseTimeout = 10 * time.Second

// release stops the renewals and releases the lock. A lock already taken
// over is not an error here: the run was cancelled and said so.
func (h *heldLock) release(ctx context.Context) error {
	if h.stop != nil {
		close(h.stop)
		<-h.done
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	err := h.locker.ReleaseLock(ctx, h.lock.Name, h.lock.Owner)
	if err != nil && !errors.Is(err, state.ErrNotLockHolder) {
		return fmt.Errorf("release the lock of sync %s (it expires by itself %s after the run): %w", h.sync, h.s.lockTTL, err)
	}
	return nil
}
