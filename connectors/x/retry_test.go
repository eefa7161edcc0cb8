package x

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors/retry/retrytest"
	"github.com/audiencesync/audiencesync/engine"
)

// TestRetryBudgetEndToEnd runs syncs against the replica with faults: no
// batch reaches X more often than the policy's attempts, whichever layer
// retries, every attempt is signed afresh, and the report counts every
// retry. Back-off waits cost no time.
func TestRetryBudgetEndToEnd(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, faults string
		extra        int    // see retrytest.RequireBounded
		said         string // what the platform said, kept in the report's error
	}{
		{name: "429 twice", faults: "x.users:429*2,retry-after=0s", extra: 2},
		{name: "503 beyond the client's attempts", faults: "x.users:503*5", extra: 5},
		{name: "permanent 500", faults: "x.users:500", extra: -1, said: "HTTP 500 INTERNAL_ERROR"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, tt.faults, 0, nil)
			s := newSyncer(t, r.dest(t, nil, func(l *limits) { l.maxOps = 25 })) // four attempts a request
			s.eng.Retry = retrytest.NewClock(time.Now()).Policy(8)
			ms := crmMembers(0, 50, 0)
			rep, err := s.run(ms, engine.Options{})
			retrytest.RequireBounded(t, 8, tt.extra, retrytest.Outcome{Batches: rep.Batches, Requests: len(r.rec.requestOps()),
				Retries: rep.Retries, Failed: rep.Applied.Failed, Members: 50, Err: err})
			nonces := r.rec.allNonces()
			require.Len(t, compactSorted(nonces), len(nonces), "a nonce was reused")
			if tt.extra < 0 {
				require.Contains(t, rep.Errors[0], tt.said, "the last answer's body was read")
				return
			}
			require.Equal(t, want(t, ms), r.members(audienceOf(t, r)))
		})
	}
}

// TestRateGateHoldsOnTheBatchClock: a request to an endpoint whose window
// is spent waits for the reset with the batch's sleeper, once, so a fake
// clock covers the wait (and it does not spin while the wall clock lags).
func TestRateGateHoldsOnTheBatchClock(t *testing.T) {
	t.Parallel()
	reset := time.Now().Add(3 * time.Minute)
	h := http.Header{}
	h.Set("x-rate-limit-remaining", "0")
	h.Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
	sent := 0
	g := newRateGate(roundTripFunc(func(*http.Request) (*http.Response, error) {
		sent++
		return &http.Response{StatusCode: http.StatusOK, Header: h.Clone(), Body: io.NopCloser(strings.NewReader("{}"))}, nil
	}))
	clock := retrytest.NewClock(time.Now())
	ctx := clock.Batch(t, 8)
	start := time.Now()
	for range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://ads.invalid/12/accounts/a/custom_audiences/b/users", nil)
		require.NoError(t, err)
		resp, err := g.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	require.Less(t, time.Since(start), 10*time.Second, "the fake clock's wait takes no real time")
	require.Equal(t, 2, sent)
	slept := clock.Slept()
	require.Len(t, slept, 1, "one wait for the window to reset")
	require.InDelta(t, float64(3*time.Minute), float64(slept[0]), float64(2*time.Second))
}

// roundTripFunc is an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
