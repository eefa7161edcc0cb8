// Package retrytest has a fake clock for retry.Policy, so tests of retries
// and back-off wait no real time.
package retrytest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors/retry"
)

// Clock is a fake clock: Sleep records the wait and moves the time on at
// once. It is safe for concurrent use.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep records d and advances the clock by it, unless ctx has ended.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(max(d, 0))
	return nil
}

// Slept returns every wait asked of Sleep, in order.
func (c *Clock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// Policy is a retry.Policy of attempts attempts a batch with realistic
// back-off steps (1s doubling to 1m) whose waits go to c.
func (c *Clock) Policy(attempts int) retry.Policy {
	return retry.Policy{Attempts: attempts, Initial: time.Second, Max: time.Minute, Now: c.Now, Sleep: c.Sleep}
}

// Batch returns a context carrying the budget of one batch of a Policy of
// attempts attempts on c, for calling a connector's code as the engine
// does. It ends after 10 seconds, so a wait that escaped c to the wall
// clock fails the test quickly instead of hanging it.
func (c *Clock) Batch(t testing.TB, attempts int) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return retry.With(ctx, c.Policy(attempts).Budget(1))
}

// Outcome is what a sync under injected faults did to one destination.
type Outcome struct {
	Batches  int   // batches the report counts
	Requests int   // upload requests the replica saw
	Retries  int   // retries the report counts
	Failed   int64 // members the report counts as failed
	Members  int64 // members the sync sent
	Err      error // the run's error
}

// RequireBounded checks a sync against a policy of attempts attempts a
// batch, each batch sent as one request: no batch took more than attempts
// requests, and the report counts every retry. extra is how many requests
// the faults add in all, or -1 for a fault that never passes, which must
// take every batch to exactly attempts requests and fail it.
func RequireBounded(t testing.TB, attempts, extra int, o Outcome) {
	t.Helper()
	require.Positive(t, o.Batches)
	require.LessOrEqual(t, o.Requests, o.Batches*attempts, "the bound holds per batch")
	if extra < 0 {
		require.Error(t, o.Err)
		require.Equal(t, o.Batches*attempts, o.Requests, "each batch used all its attempts, no more")
		require.Equal(t, o.Batches*(attempts-1), o.Retries, "every retry is reported")
		require.Equal(t, o.Members, o.Failed)
		require.ErrorContains(t, o.Err, "see the report")
		return
	}
	require.NoError(t, o.Err)
	require.Equal(t, o.Batches+extra, o.Requests)
	require.Equal(t, extra, o.Retries, "every retry is reported")
	require.Zero(t, o.Failed)
}
