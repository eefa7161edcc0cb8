package wire

import (
	"sync"
	"time"
)

// Windows count requests in fixed rate-limit windows, one per key (an
// access token, an account's endpoint): up to a limit in each window,
// after which the window refuses until it ends. The zero value is empty
// and ready. They lock on their own, so a replica need not hold its mutex
// to count.
type Windows struct {
	mu sync.Mutex
	m  map[string]*window
}

type window struct {
	reset time.Time
	used  int
}

// Take counts a request under key at now, in the key's window (a new one
// of length when there is none or it ended), which allows limit requests.
// allowed reports whether the request is within the window's budget;
// remaining is what is left of it after this request, and reset when the
// window ends.
func (w *Windows) Take(key string, now time.Time, limit int, length time.Duration) (allowed bool, remaining int, reset time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]*window{}
	}
	win := w.m[key]
	if win == nil || !now.Before(win.reset) {
		win = &window{reset: now.Add(length)}
		w.m[key] = win
	}
	allowed = win.used < limit
	if allowed {
		win.used++
	}
	return allowed, limit - win.used, win.reset
}

// Clear forgets every window.
func (w *Windows) Clear() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.m = nil
}
