package wire

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestQueueAppliesInOrderBeforeReads queues adds and removes of the same
// values from many goroutines, each goroutine's changes in order, and
// checks that a settled read sees exactly what the order says.
func TestQueueAppliesInOrderBeforeReads(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	q := NewQueue(&mu)
	var s Set
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				v := "value-" + strconv.Itoa(g) + "-" + strconv.Itoa(i%10)
				mu.Lock()
				q.PushLocked(1, func() { s.Add(v) })
				if i%3 == 0 {
					q.PushLocked(1, func() { s.Remove(v) })
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	q.LockSettled()
	defer q.UnlockSettled()
	// Per goroutine and value, the last change decides: i = 190..199 are
	// the last of each value; i%3 == 0 among them removed it.
	var want []string
	for g := range 8 {
		for i := 190; i < 200; i++ {
			if i%3 != 0 {
				want = append(want, "value-"+strconv.Itoa(g)+"-"+strconv.Itoa(i%10))
			}
		}
	}
	require.ElementsMatch(t, want, s.Sorted())
	require.Empty(t, q.ops, "a settled read leaves nothing queued")
}

func TestQueueSettlesABacklog(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	q := NewQueue(&mu)
	q.running = true // as if an applier were busy: changes pile up
	applied := 0
	mu.Lock()
	for range 2 {
		q.PushLocked(maxQueued/2, func() { applied++ })
	}
	mu.Unlock()
	q.SettleIfBacklogged()
	require.Zero(t, applied, "at the limit, nothing is applied early")
	mu.Lock()
	q.PushLocked(1, func() { applied++ })
	mu.Unlock()
	q.SettleIfBacklogged()
	require.Equal(t, 3, applied, "an upload finding more than maxQueued identifiers waiting applies them first")
	require.Zero(t, q.weight)
}

// TestQueueSettledLocker checks that Settled locks as LockSettled does:
// what is queued is applied before the lock is held, and Unlock releases
// what Lock took.
func TestQueueSettledLocker(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	q := NewQueue(&mu)
	var s Set
	mu.Lock()
	q.PushMembersLocked(&s, []string{"a", "b"}, nil, true)
	mu.Unlock()
	l := q.Settled()
	l.Lock()
	require.Equal(t, []string{"a", "b"}, s.Sorted(), "queued changes are applied before the lock is held")
	require.False(t, mu.TryLock(), "the replica's mutex is held")
	l.Unlock()
	// Unlock released both locks, or this would block (the applier
	// goroutine may still hold them for a moment, so TryLock would not do).
	q.LockSettled()
	q.UnlockSettled()
}

// TestCoreStartsEmptyAndResetsAfterQueuedChanges checks that NewCore
// empties the replica once and that Reset applies what is queued before
// emptying, so no accepted change lands in the emptied replica.
func TestCoreStartsEmptyAndResetsAfterQueuedChanges(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var members Set
	empties := 0
	c := NewCore(Mount{}, &mu, func() []string { return members.Sorted() }, func([]string) error { return nil },
		func() { members = Set{}; empties++ })
	require.Equal(t, 1, empties, "a new replica starts empty")

	mu.Lock()
	c.Changes.running = true // as if an applier were busy: the change waits
	c.Changes.PushMembersLocked(&members, []string{"a"}, nil, true)
	mu.Unlock()
	c.Reset()
	require.Equal(t, 2, empties)
	require.Zero(t, members.Len(), "the queued add was applied before emptying, not after")
	require.Empty(t, c.Changes.ops)

	saved, err := c.Save()
	require.NoError(t, err)
	require.JSONEq(t, `[]`, string(saved))
}
