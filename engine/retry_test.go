package engine_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/connectors/retry"
	"github.com/audiencesync/audiencesync/connectors/retry/retrytest"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
)

// flaky fails its first fails Apply calls with RetryAfter(wait), after
// drawing inner retries from the batch's budget as an HTTP client would
// and reporting them as its own.
type flaky struct {
	*fake.Destination
	wait  time.Duration
	inner int

	mu        sync.Mutex
	fails     int
	calls     int
	noBudget  bool
	innerUsed int
}

func (d *flaky) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	budget := retry.From(ctx)
	if budget == nil {
		d.noBudget = true
		return connectors.BatchResult{}, connectors.Fatal(errors.New("no retry budget in the context"))
	}
	if d.fails == 0 {
		return d.Destination.Apply(ctx, aud, b)
	}
	d.fails--
	var res connectors.BatchResult
	for range d.inner {
		ok, err := budget.Wait(ctx, time.Second, time.Minute, 0)
		if err != nil || !ok {
			break
		}
		res.Retries++
		d.innerUsed++
	}
	return res, connectors.RetryAfter(d.wait, errors.New("flaky: throttled"))
}

func TestRetryBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		attempts    int
		fails       int
		wait        time.Duration
		inner       int
		wantCalls   int
		wantRetries int
		wantFailed  bool
		wantSlept   []time.Duration
	}{
		{name: "retried with the back-off", attempts: 4, fails: 2, wantCalls: 3, wantRetries: 2,
			wantSlept: []time.Duration{time.Second, 2 * time.Second}},
		{name: "the attempts bound the engine's retries", attempts: 3, fails: 10, wantCalls: 3, wantRetries: 2, wantFailed: true,
			wantSlept: []time.Duration{time.Second, 2 * time.Second}},
		{name: "the wait asked for is honoured", attempts: 4, fails: 1, wait: 90 * time.Second, wantCalls: 2, wantRetries: 1,
			wantSlept: []time.Duration{90 * time.Second}},
		{name: "a wait beyond the time bound is not retried", attempts: 4, fails: 1, wait: 20 * time.Minute, wantCalls: 1, wantFailed: true},
		{name: "inner retries draw on the same budget", attempts: 4, fails: 10, inner: 3, wantCalls: 1, wantRetries: 3, wantFailed: true,
			wantSlept: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{name: "inner and engine retries share the budget", attempts: 7, fails: 2, inner: 2, wantCalls: 3, wantRetries: 6,
			wantSlept: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second}},
		{name: "inner retries leave the engine too little", attempts: 6, fails: 2, inner: 2, wantCalls: 2, wantRetries: 5, wantFailed: true,
			wantSlept: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			clock := retrytest.NewClock(time.Now())
			b.eng.Retry = clock.Policy(tt.attempts)
			b.eng.Retry.Jitter = func(n int64) int64 { return n - 1 } // the top of each step
			d := &flaky{Destination: b.dest, wait: tt.wait, inner: tt.inner, fails: tt.fails}
			ms := members(0, 20)
			rep, err := b.run(ms, engine.Options{}, func(j *engine.Job) { j.Targets[0].Dest = d })
			require.False(t, d.noBudget, "every Apply carries the batch's budget")
			require.Equal(t, tt.wantCalls, d.calls)
			require.Equal(t, tt.wantRetries, dest(rep).Retries, "engine and inner retries, failed calls included")
			require.Equal(t, tt.wantSlept, clock.Slept())
			if tt.wantFailed {
				require.Error(t, err)
				require.Equal(t, report.StatusPartial, dest(rep).Status)
				require.Contains(t, dest(rep).Errors[0], "retry budget is spent")
				require.Equal(t, int64(20), dest(rep).Applied.Failed)
				return
			}
			require.NoError(t, err)
			require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))
		})
	}
}
