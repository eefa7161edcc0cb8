package wire

import (
	"sync"
	"time"
)

// Windows count requests in fixed rate-limit windows, one per key (an
// access token, an account's endpoint): up to a limit in each window of a
// length, after which the window refuses until it ends. They lock on
// their own, so a replica need not hold its mutex to count.
type Windows struct {
	limit  int
	length time.Duration

	mu sync.Mutex
	m  map[string]*window
}

type window struct {
	reset time.Time
	used  int
}

// NewWindows returns empty windows of length that allow limit requests
// each.
func NewWindows(limit int, length time.Duration) *Windows {
	return &Windows{limit: limit, length: length, m: map[string]*window{}}
}

// Take counts a request under key at now, in the key's window (a new one
// when there is none or it ended). allowed reports whether the request is
// within the window's budget; remaining is what is left of it after this
// request, and reset when the window ends.
func (w *Windows) Take(key string, now time.Time) (allowed bool, remaining int, reset time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	win := w.m[key]
	if win == nil || !now.Before(win.reset) {
		win = &window{reset: now.Add(w.length)}
		w.m[key] = win
	}
	allowed = win.used < w.limit
	if allowed {
		win.used++
	}
	return allowed, w.limit - win.used, win.reset
}

// Limit is the requests a window allows.
func (w *Windows) Limit() int { return w.limit }

// Clear forgets every window.
func (w *Windows) Clear() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m = map[string]*window{}
}
