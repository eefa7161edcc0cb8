package retry_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/audiencesync/audiencesync/connectors/retry"
	"github.com/audiencesync/audiencesync/connectors/retry/retrytest"
)

// Jitter sources at both ends of their range.
var (
	lowest  = func(int64) int64 { return 0 }
	highest = func(n int64) int64 { return n - 1 }
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		initial, max time.Duration
		n            int
		asked        time.Duration
		jitter       func(int64) int64
		want         time.Duration
	}{
		{"first step, lowest jitter", time.Second, time.Minute, 0, 0, lowest, 500 * time.Millisecond},
		{"first step, highest jitter", time.Second, time.Minute, 0, 0, highest, time.Second},
		{"doubles", time.Second, time.Minute, 3, 0, highest, 8 * time.Second},
		{"doubles, lowest jitter", time.Second, time.Minute, 3, 0, lowest, 4 * time.Second},
		{"capped at max", time.Second, time.Minute, 10, 0, highest, time.Minute},
		{"capped at max, lowest jitter", time.Second, time.Minute, 10, 0, lowest, 30 * time.Second},
		{"no overflow after many retries", time.Second, time.Minute, 500, 0, highest, time.Minute},
		{"asked wait honoured over the step", time.Millisecond, 5 * time.Millisecond, 0, 3 * time.Second, highest, 3 * time.Second},
		{"asked wait not capped", time.Second, time.Minute, 9, 20 * time.Minute, lowest, 20 * time.Minute},
		{"zero bounds wait nothing", 0, 0, 4, 0, highest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, retry.Backoff(tt.initial, tt.max, tt.n, tt.asked, tt.jitter))
		})
	}
}

func TestBackoffJitterRange(t *testing.T) {
	t.Parallel()
	for n := range 12 {
		step := min(time.Second<<n, time.Minute)
		for range 50 {
			d := retry.Backoff(time.Second, time.Minute, n, 0, nil)
			require.GreaterOrEqual(t, d, step/2, "retry %d", n)
			require.LessOrEqual(t, d, step, "retry %d", n)
		}
	}
}

func TestBudget(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		pol     retry.Policy
		batches int
		asked   []time.Duration // asked wait of each retry; its length is how many are tried
		granted int
		slept   []time.Duration
	}{
		{
			name:    "attempts bound the retries",
			pol:     retry.Policy{Attempts: 4},
			asked:   make([]time.Duration, 10),
			granted: 3,
			slept:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
		},
		{
			name:    "default attempts",
			asked:   make([]time.Duration, 20),
			granted: retry.DefaultAttempts - 1,
			slept:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute},
		},
		{
			name:    "a wait past the time bound ends the retries",
			pol:     retry.Policy{Attempts: 10, MaxTime: 10 * time.Minute},
			asked:   []time.Duration{4 * time.Minute, 5 * time.Minute, 2 * time.Minute},
			granted: 2,
			slept:   []time.Duration{4 * time.Minute, 5 * time.Minute},
		},
		{
			name:    "Retry-After longer than the whole budget",
			pol:     retry.Policy{MaxTime: time.Minute},
			asked:   []time.Duration{2 * time.Minute},
			granted: 0,
		},
		{
			name:    "a replace of three batches gets three budgets",
			pol:     retry.Policy{Attempts: 3, MaxTime: time.Minute},
			batches: 3,
			asked:   []time.Duration{50 * time.Second, 50 * time.Second, 50 * time.Second, 50 * time.Second, 50 * time.Second, 50 * time.Second, 50 * time.Second},
			granted: 3,
			slept:   []time.Duration{50 * time.Second, 50 * time.Second, 50 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := retrytest.NewClock(start)
			tt.pol.Now, tt.pol.Sleep, tt.pol.Jitter = clock.Now, clock.Sleep, highest
			b := tt.pol.Budget(tt.batches)
			granted := 0
			for _, asked := range tt.asked {
				ok, err := b.Wait(t.Context(), time.Second, time.Minute, asked)
				require.NoError(t, err)
				if ok {
					granted++
				}
			}
			require.Equal(t, tt.granted, granted)
			require.Equal(t, tt.granted, b.Retries())
			require.Equal(t, tt.slept, clock.Slept())
		})
	}
}

func TestBudgetStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b := retry.Policy{}.Budget(1)
	ok, err := b.Wait(ctx, time.Second, time.Second, 0)
	require.False(t, ok)
	require.ErrorIs(t, err, context.Canceled)
}

func TestTakeAndContext(t *testing.T) {
	t.Parallel()
	require.True(t, retry.Take(t.Context()), "no budget: nothing to take from")
	b := retry.Policy{Attempts: 2}.Budget(1)
	ctx := retry.With(t.Context(), b)
	require.Same(t, b, retry.From(ctx))
	require.True(t, retry.Take(ctx))
	require.False(t, retry.Take(ctx), "one retry of two attempts is spent")
	require.Equal(t, 1, b.Retries())
}

// TestHold: a hold waits with the budget's sleeper when the context
// carries one, so a fake clock records it and no time passes; without a
// budget it is a real wait that ends with the context.
func TestHold(t *testing.T) {
	t.Parallel()
	clock := retrytest.NewClock(time.Now())
	start := time.Now()
	require.NoError(t, retry.Hold(clock.Batch(t, 8), time.Hour))
	require.Less(t, time.Since(start), time.Minute, "the fake clock's hold takes no real time")
	require.Equal(t, []time.Duration{time.Hour}, clock.Slept())

	done, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, retry.Hold(done, time.Hour), context.Canceled, "without a budget the wall clock waits, until the context ends")
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		want   time.Duration
		ok     bool
	}{
		{"seconds", "7", 7 * time.Second, true},
		{"zero", "0", 0, true},
		{"HTTP date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"HTTP date in the past", now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"absent", "", 0, false},
		{"negative", "-3", 0, false},
		{"garbage", "soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := &http.Response{Header: http.Header{}}
			if tt.header != "" {
				resp.Header.Set("Retry-After", tt.header)
			}
			got, ok := retry.RetryAfter(resp, now)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
	_, ok := retry.RetryAfter(nil, now)
	require.False(t, ok)
}

// TestRetryingCleansTheReason: an announced retry's reason loses URL query
// strings and fragments (where tokens travel) and is bounded in length.
func TestRetryingCleansTheReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, reason, want string
	}{
		{"status line", "503 Service Unavailable", "503 Service Unavailable"},
		{"url with a token", `Post "https://graph.example/v1/act_1/users?access_token=SECRET&appsecret_proof=abc": connection reset`,
			`Post "https://graph.example/v1/act_1/users": connection reset`},
		{"fragment", "GET https://x.example/a#SECRET failed", "GET https://x.example/a failed"},
		{"long", strings.Repeat("é", 400), strings.Repeat("é", 150) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			core, logs := observer.New(zap.InfoLevel)
			b := retry.Policy{Attempts: 3}.Budget(1).Announce(zap.New(core), "meta", "batch 1 (remove, 5 members)")
			_, ok := b.Grant(time.Second, time.Second, 2*time.Second)
			require.True(t, ok)
			b.Retrying(2*time.Second, tt.reason)
			entries := logs.All()
			require.Len(t, entries, 1)
			require.Equal(t, "meta retrying batch 1 (remove, 5 members) in 2s: "+tt.want+", attempt 2 of 3", entries[0].Message)
			require.Equal(t, tt.want, entries[0].ContextMap()["reason"])
		})
	}
}

// TestProgressRestartsTheBackOff: after Progress the next wait is the
// initial step again, while the attempts bound still counts every retry.
func TestProgressRestartsTheBackOff(t *testing.T) {
	t.Parallel()
	clock := retrytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	pol := retry.Policy{Attempts: 6, MaxTime: time.Hour, Now: clock.Now, Sleep: clock.Sleep, Jitter: highest}
	b := pol.Budget(1)
	wait := func() bool {
		ok, err := b.Wait(t.Context(), time.Second, time.Minute, 0)
		require.NoError(t, err)
		return ok
	}
	require.True(t, wait())
	require.True(t, wait())
	b.Progress()
	require.True(t, wait())
	require.True(t, wait())
	require.True(t, wait())
	require.False(t, wait(), "the attempts bound counts retries from before the progress too")
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, time.Second, 2 * time.Second, 4 * time.Second}, clock.Slept())
}

// A budget tallies the rate-limit waits reported to it and the holds
// waited on it; waits of 0 and plain retries are not rate limits.
func TestRateLimitWaits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		do        func(ctx context.Context, b *retry.Budget)
		wantN     int
		wantTotal time.Duration
	}{
		{"none", func(context.Context, *retry.Budget) {}, 0, 0},
		{"reported", func(_ context.Context, b *retry.Budget) { b.RateLimited(2 * time.Second); b.RateLimited(time.Second) }, 2, 3 * time.Second},
		{"zero is no wait", func(_ context.Context, b *retry.Budget) { b.RateLimited(0) }, 0, 0},
		{"a hold counts", func(ctx context.Context, _ *retry.Budget) { _ = retry.Hold(ctx, 15*time.Minute) }, 1, 15 * time.Minute},
		{"a hold of 0 does not", func(ctx context.Context, _ *retry.Budget) { _ = retry.Hold(ctx, 0) }, 0, 0},
		{"a back-off is no rate limit", func(ctx context.Context, b *retry.Budget) { _, _ = b.Wait(ctx, time.Second, time.Second, 0) }, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := retrytest.NewClock(time.Now())
			ctx := clock.Batch(t, 8)
			b := retry.From(ctx)
			tt.do(ctx, b)
			n, total := b.RateLimitWaits()
			require.Equal(t, tt.wantN, n)
			require.Equal(t, tt.wantTotal, total)
		})
	}
}
