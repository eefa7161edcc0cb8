package wire

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWindows(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	type take struct {
		key       string
		at        time.Duration // after start
		allowed   bool
		remaining int
		reset     time.Duration // after start
	}
	for _, tc := range []struct {
		name  string
		takes []take
		clear bool
	}{
		{name: "budget spent", takes: []take{
			{"a", 0, true, 1, time.Minute},
			{"a", time.Second, true, 0, time.Minute},
			{"a", 2 * time.Second, false, 0, time.Minute},
		}},
		{name: "keys apart", takes: []take{
			{"a", 0, true, 1, time.Minute},
			{"a", 0, true, 0, time.Minute},
			{"b", 30 * time.Second, true, 1, 90 * time.Second},
		}},
		{name: "a new window once one ends", takes: []take{
			{"a", 0, true, 1, time.Minute},
			{"a", 0, true, 0, time.Minute},
			{"a", time.Minute, true, 1, 2 * time.Minute},
		}},
		{name: "cleared", clear: true, takes: []take{
			{"a", time.Second, true, 1, time.Minute + time.Second},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var w Windows
			if tc.clear {
				w.Take("a", start, 2, time.Minute)
				w.Take("a", start, 2, time.Minute)
				w.Clear()
			}
			for i, tk := range tc.takes {
				allowed, remaining, reset := w.Take(tk.key, start.Add(tk.at), 2, time.Minute)
				require.Equal(t, tk.allowed, allowed, "take %d", i)
				require.Equal(t, tk.remaining, remaining, "take %d", i)
				require.Equal(t, start.Add(tk.reset), reset, "take %d", i)
			}
		})
	}
}

func TestWindowsConcurrent(t *testing.T) {
	t.Parallel()
	var w Windows
	now := time.Now()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if ok, _, _ := w.Take("k", now, 100, time.Hour); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, 100, allowed, "exactly the budget, however the takes interleave")
}

func TestHasPathPrefix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/rest/dmpSegments/1", true},
		{"/oauth/v2/accessToken", true},
		{"/rest/adAccounts", false},
		{"/", false},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		require.Equal(t, tc.want, HasPathPrefix(r, "/rest/dmpSegments", "/oauth/"), tc.path)
	}
	require.False(t, HasPathPrefix(httptest.NewRequest("GET", "/x", nil)), "no prefixes own nothing")
}

func TestAudiencesWhere(t *testing.T) {
	t.Parallel()
	tab := NewAudiences[testAudience](0, 10)
	for _, name := range []string{"b", "a", "b"} {
		tab.Add(tab.NewID(), &testAudience{name: name})
	}
	got := tab.Where(func(id string, a *testAudience) bool { return a.name == "b" || id == "2" })
	names := make([]string, len(got))
	for i, a := range got {
		names[i] = a.name
	}
	require.Equal(t, []string{"b", "a", "b"}, names, "in creation order")
	require.Len(t, tab.Where(func(id string, _ *testAudience) bool { return id == "1" }), 1)
	require.Nil(t, tab.Where(func(string, *testAudience) bool { return false }))
}
