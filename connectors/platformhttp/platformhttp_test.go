package platformhttp

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors/retry"
	"github.com/audiencesync/audiencesync/connectors/retry/retrytest"
)

func TestRetriesHonourRetryAfterAndCountRetries(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var first time.Time
	var gap time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			gap = time.Since(first)
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	c := New(Options{MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond})
	ctx, retries := WithRetryCount(context.Background())
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, int32(3), calls.Load())
	require.Equal(t, 2, *retries)
	require.GreaterOrEqual(t, gap, 900*time.Millisecond, "Retry-After: 1 was honoured")
}

func TestFinalResponseBodyIsKept(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, `{"error":{"message":"upstream"}}`)
	}))
	defer srv.Close()
	c := New(Options{Attempts: 2, MinWait: time.Millisecond, MaxWait: time.Millisecond})
	resp, err := get(t, c, srv.URL)
	require.NoError(t, err, "the pass-through handler returns the last response, not an error")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Contains(t, string(b), "upstream")
}

func TestLogsCarryNoQueryString(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := New(Options{Logger: zap.New(core), Attempts: 2, MinWait: time.Millisecond, MaxWait: time.Millisecond})
	resp, err := get(t, c, srv.URL+"/v1/x?access_token=SECRET-TOKEN&appsecret_proof=abc")
	require.NoError(t, err)
	resp.Body.Close()
	require.Positive(t, logs.Len())
	for _, e := range logs.All() {
		for _, f := range e.Context {
			require.NotContains(t, f.String, "SECRET-TOKEN")
			require.NotContains(t, f.String, "appsecret_proof")
		}
		require.NotContains(t, e.Message, "SECRET-TOKEN")
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := New(Options{RequestsPerSecond: 20, Burst: 1})
	start := time.Now()
	for range 5 {
		resp, err := get(t, c, srv.URL)
		require.NoError(t, err)
		resp.Body.Close()
	}
	require.GreaterOrEqual(t, time.Since(start), 180*time.Millisecond, "5 requests at 20/s take at least 200ms less one interval")
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	require.True(t, strings.HasPrefix(auth.RedactURL("https://u:p@h/p?q=1#f"), "https://h/p"))
}

func get(t *testing.T, c *Client, url string) (*http.Response, error) {
	t.Helper()
	req, err := retryablehttp.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	return c.Do(req)
}

func TestRetriesDrawOnTheBatchBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		attempts   int // the client's, per request
		budget     int // the batch's
		retryAfter string
		maxTime    time.Duration
		calls      int32
		slept      []time.Duration
	}{
		{name: "the budget ends the retries", attempts: 10, budget: 3, retryAfter: "2", calls: 3,
			slept: []time.Duration{2 * time.Second, 2 * time.Second}},
		{name: "the client's attempts end the retries", attempts: 2, budget: 8, retryAfter: "2", calls: 2,
			slept: []time.Duration{2 * time.Second}},
		{name: "HTTP date honoured", attempts: 3, budget: 8, retryAfter: "date+90s", calls: 3,
			slept: []time.Duration{90 * time.Second, 90 * time.Second}},
		{name: "a wait past the batch's time is not waited", attempts: 5, budget: 8, retryAfter: "120", maxTime: time.Minute, calls: 1},
		{name: "no signal: the back-off", attempts: 3, budget: 8, calls: 3,
			slept: []time.Duration{time.Second, 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := retrytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				switch {
				case tt.retryAfter == "date+90s":
					w.Header().Set("Retry-After", clock.Now().Add(90*time.Second).Format(http.TimeFormat))
				case tt.retryAfter != "":
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, "busy")
			}))
			defer srv.Close()
			c := New(Options{Attempts: tt.attempts, MinWait: time.Second, MaxWait: time.Minute})
			pol := clock.Policy(tt.budget)
			pol.MaxTime = tt.maxTime
			pol.Jitter = func(n int64) int64 { return n - 1 }
			ctx, retries := WithRetryCount(retry.With(t.Context(), pol.Budget(1)))
			req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			resp, err := c.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			require.Equal(t, "busy", string(b), "the last answer comes back whole")
			require.Equal(t, tt.calls, calls.Load())
			require.Equal(t, int(tt.calls)-1, *retries)
			require.Equal(t, tt.slept, clock.Slept())
		})
	}
}

// TestRetriesAnnouncedAtInfo: a batch budget that announces logs each HTTP
// retry at info level as it happens, with the status line the platform
// answered, never the URL's query string; a budget that does not
// announce logs nothing at info.
func TestRetriesAnnouncedAtInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		announce bool
		want     []string
	}{
		{"announced", true, []string{
			"google retrying batch 12 (add, 10000 members) in 4s: 503 Service Unavailable, attempt 2 of 8",
			"google retrying batch 12 (add, 10000 members) in 4s: 503 Service Unavailable, attempt 3 of 8",
		}},
		{"not announced", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) > 2 {
					return
				}
				w.Header().Set("Retry-After", "4")
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			defer srv.Close()
			core, logs := observer.New(zap.InfoLevel)
			clock := retrytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			b := clock.Policy(8).Budget(1)
			if tt.announce {
				b.Announce(zap.New(core).With(zap.String("destination", "google")), "google", "batch 12 (add, 10000 members)")
			}
			c := New(Options{Attempts: 5, MinWait: time.Second, MaxWait: time.Minute, Logger: zap.New(core)})
			req, err := retryablehttp.NewRequestWithContext(retry.With(t.Context(), b), http.MethodPost,
				srv.URL+"/v1/audienceMembers:ingest?access_token=SECRET-TOKEN", nil)
			require.NoError(t, err)
			resp, err := c.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			var got []string
			for _, e := range logs.All() {
				require.NotContains(t, e.Message, "SECRET-TOKEN")
				got = append(got, e.Message)
				require.Equal(t, "google", e.ContextMap()["destination"])
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// wrapper is a round tripper that, like a signer or a rate gate, wraps
// another without passing CloseIdleConnections on.
type wrapper struct{ next http.RoundTripper }

func (w wrapper) RoundTrip(r *http.Request) (*http.Response, error) { return w.next.RoundTrip(r) }

// TestCloseIdleConnections checks that CloseIdleConnections closes the
// kept-alive connection to the server, with and without a rate limit (the
// limiter wraps the transport and must pass the call on), and through a
// wrapper that does not when Options.Wire names the transport below it.
func TestCloseIdleConnections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rps     float64
		wrapped bool
	}{{0, false}, {50, false}, {0, true}, {50, true}} {
		t.Run(fmt.Sprintf("rps=%g/wrapped=%t", tc.rps, tc.wrapped), func(t *testing.T) {
			t.Parallel()
			var open atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "ok")
			}))
			srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
				switch st {
				case http.StateNew:
					open.Add(1)
				case http.StateClosed, http.StateHijacked:
					open.Add(-1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			tr := http.DefaultTransport.(*http.Transport).Clone()
			t.Cleanup(tr.CloseIdleConnections)
			o := Options{Transport: tr, RequestsPerSecond: tc.rps, Burst: 1}
			if tc.wrapped {
				o.Transport, o.Wire = wrapper{next: tr}, tr
			}
			c := New(o)
			req, err := retryablehttp.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			resp, err := c.Do(req)
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, int32(1), open.Load(), "the connection is kept alive")

			c.CloseIdleConnections()
			require.Eventually(t, func() bool { return open.Load() == 0 }, 5*time.Second, 10*time.Millisecond,
				"the idle connection is closed")
		})
	}
}
