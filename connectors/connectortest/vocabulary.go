package connectortest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// Waits the rate-limit checks have the platform ask for: one the batch's
// time budget covers twice over, and one past it.
const (
	throttleWait     = 2 * time.Minute
	pastBudgetWait   = retry.DefaultMaxTime + 5*time.Minute
	throttledCalls   = 2
	transientFailure = 2
)

// sent is how one batch sent by send ended.
type sent struct {
	res     connectors.BatchResult
	err     error // the error the batch ended with; nil when applied
	retries int   // Apply calls made again, plus the retries Apply reported
	gaveUp  bool  // the retry budget ran out
	elapsed time.Duration
}

// send sends one batch as the engine does: under one retry budget of the
// default policy (retry.DefaultAttempts attempts, retry.DefaultMaxTime),
// carried in the context so the destination's HTTP client draws on it
// too, calling Apply again for as long as connectors.Classify says retry
// and the budget allows. Every wait goes to the setup's fake clock.
func (s *destSetup) send(t *testing.T, op connectors.Op, members []connectors.Upload) sent {
	t.Helper()
	pol := retry.Policy{Now: s.clock.Now, Sleep: s.clock.Sleep}.WithDefaults()
	budget := pol.Budget(1)
	start := s.clock.Now()
	var out sent
	s.inRun(t, func(ctx context.Context) error {
		ctx = retry.With(ctx, budget)
		for {
			out.res, out.err = s.dest.Apply(ctx, s.aud, connectors.Batch{Op: op, Seq: 1, Members: members})
			out.retries += out.res.Retries
			if out.err == nil {
				return nil
			}
			act, wait := connectors.Classify(out.err)
			if act != connectors.ActionRetry {
				return nil
			}
			ok, err := budget.Wait(ctx, pol.Initial, pol.Max, wait)
			require.NoError(t, err)
			if !ok {
				out.gaveUp = true
				return nil
			}
			out.retries++
		}
	})
	out.elapsed = s.clock.Now().Sub(start)
	return out
}

// errorChecks runs the error-vocabulary checks: the harness's remote has
// Faults.
func errorChecks(t *testing.T, h DestinationHarness) {
	faulty := func(name string, f func(t *testing.T, s *destSetup, f Faults)) {
		check(t, h, name, func(t *testing.T, s *destSetup) {
			require.NotNil(t, s.remote.Faults, "Remote.Faults must be set on every remote New returns, or on none")
			f(t, s, s.remote.Faults)
		})
	}

	faulty("ExpiredTokenStops", func(t *testing.T, s *destSetup, f Faults) {
		before := s.uploads(0, 3)
		s.apply(t, connectors.OpAdd, before)
		f.ExpiredToken(t)
		out := s.send(t, connectors.OpAdd, s.uploads(10, 3))
		requireReauthenticate(t, out.err)
		require.LessOrEqual(t, f.Fired(t), 2, "refused credentials may be tried once more with a refreshed token, never retried")
		require.False(t, out.gaveUp, "an expired token stops the destination: the batch is not retried until the budget runs out")
		_, err := s.dest.Ensure(t.Context(), s.spec)
		requireReauthenticate(t, err)
		f.Clear(t)
		s.requireMembers(t, before)
	})

	faulty("RateLimitHonoured", func(t *testing.T, s *destSetup, f Faults) {
		batch := s.uploads(0, 5)
		f.RateLimit(t, throttledCalls, throttleWait)
		out := s.send(t, connectors.OpAdd, batch)
		require.NoError(t, out.err, "the batch goes through once the rate limit clears")
		require.Equal(t, throttledCalls, f.Fired(t))
		honoured := 0
		for _, d := range s.clock.Slept() {
			if d >= throttleWait {
				honoured++
			}
		}
		require.GreaterOrEqual(t, honoured, throttledCalls, "each retry after a throttle must wait what the platform asked (%s); waited %v", throttleWait, s.clock.Slept())
		require.Equal(t, throttledCalls, out.retries, "every retry is counted")
		s.requireMembers(t, batch)
	})

	faulty("RateLimitPastBudget", func(t *testing.T, s *destSetup, f Faults) {
		f.RateLimit(t, -1, pastBudgetWait)
		out := s.send(t, connectors.OpAdd, s.uploads(0, 3))
		var ra *connectors.RetryAfterError
		require.ErrorAs(t, out.err, &ra, "a rate limit is reported as RetryAfter")
		require.GreaterOrEqual(t, ra.Wait, pastBudgetWait, "RetryAfter carries the wait the platform asked for")
		require.True(t, out.gaveUp, "a wait past the batch's time budget ends its retries")
		require.Equal(t, 1, f.Fired(t), "no call is made again when the wait asked for ends past the budget")
		require.Zero(t, out.elapsed, "nothing is waited for a retry that cannot be made")
		s.requireMembers(t, nil)
	})

	faulty("ServerErrorRetried", func(t *testing.T, s *destSetup, f Faults) {
		batch := s.uploads(0, 5)
		f.ServerError(t, transientFailure)
		out := s.send(t, connectors.OpAdd, batch)
		require.NoError(t, out.err, "a transient server error is retried")
		require.Equal(t, transientFailure, f.Fired(t))
		require.Equal(t, transientFailure, out.retries, "every retry is counted")
		s.requireMembers(t, batch)
	})

	faulty("ServerErrorBounded", func(t *testing.T, s *destSetup, f Faults) {
		f.ServerError(t, -1)
		out := s.send(t, connectors.OpAdd, s.uploads(0, 3))
		require.Error(t, out.err, "a server error that never passes fails the batch")
		act, _ := connectors.Classify(out.err)
		require.Equal(t, connectors.ActionRetry, act, "a server error is retryable: the next run sends the batch again (%v)", out.err)
		require.True(t, out.gaveUp, "the retry budget ends the batch")
		require.Equal(t, retry.DefaultAttempts, f.Fired(t), "a batch sent as one request reaches the platform exactly retry.DefaultAttempts times")
		require.LessOrEqual(t, out.elapsed, retry.DefaultMaxTime, "the retries of a batch end within retry.DefaultMaxTime")
		s.requireMembers(t, nil)
	})

	faulty("LostAnswerConverges", func(t *testing.T, s *destSetup, f Faults) {
		all := s.uploads(0, 6)
		f.Lost(t, 1)
		out := s.send(t, connectors.OpAdd, all)
		require.NoError(t, out.err, "an add whose answer was lost is sent again")
		require.Equal(t, 1, f.Fired(t))
		s.requireMembers(t, all)

		f.Lost(t, 1)
		out = s.send(t, connectors.OpRemove, all[:2])
		require.NoError(t, out.err, "a remove whose answer was lost is sent again")
		require.Equal(t, 1, f.Fired(t))
		s.requireMembers(t, all[2:])
	})
}

// requireReauthenticate checks err is the vocabulary's re-authenticate
// error and says more than the sentinel does.
func requireReauthenticate(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, connectors.ErrReauthenticate, "refused credentials are reported with connectors.Reauthenticate")
	act, _ := connectors.Classify(err)
	require.Equal(t, connectors.ActionStop, act, "refused credentials stop the destination")
	msg := err.Error()
	require.Contains(t, msg, "re-authenticate")
	rest := strings.TrimSpace(strings.Replace(msg, connectors.ErrReauthenticate.Error(), "", 1))
	require.NotEmpty(t, strings.Trim(rest, ":"), "the error says what was refused, not only the sentinel")
}
