package platformhttp

import (
	"context"
	"io"
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
	require.True(t, strings.HasPrefix(redactURL("https://u:p@h/p?q=1#f"), "https://h/p"))
}

func get(t *testing.T, c *Client, url string) (*http.Response, error) {
	t.Helper()
	req, err := retryablehttp.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	return c.Do(req)
}
