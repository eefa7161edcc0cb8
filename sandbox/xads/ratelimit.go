package xads

import (
	"net/http"
	"strconv"
	"time"
)

// window is one fixed rate-limit window of an endpoint for an account.
type window struct {
	reset time.Time
	used  int
}

// rateLimit counts the request against its window, writes the
// x-rate-limit-* headers, and reports whether the request is within budget.
func (s *Server) rateLimit(w http.ResponseWriter, account, endpoint string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	key := account + "|" + endpoint
	win := s.windows[key]
	if win == nil || !now.Before(win.reset) {
		win = &window{reset: now.Add(s.opts.RateWindow)}
		s.windows[key] = win
	}
	allowed := win.used < s.opts.RateLimit
	if allowed {
		win.used++
	}
	h := w.Header()
	h.Set("x-rate-limit-limit", strconv.Itoa(s.opts.RateLimit))
	h.Set("x-rate-limit-remaining", strconv.Itoa(s.opts.RateLimit-win.used))
	h.Set("x-rate-limit-reset", strconv.FormatInt(win.reset.Unix(), 10))
	return allowed
}
