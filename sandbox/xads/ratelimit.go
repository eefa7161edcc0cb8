package xads

import (
	"net/http"
	"strconv"
)

// rateLimit counts the request against the window of its endpoint for its
// account, writes the x-rate-limit-* headers, and reports whether the
// request is within budget.
func (s *Server) rateLimit(w http.ResponseWriter, account, endpoint string) bool {
	allowed, remaining, reset := s.windows.Take(account+"|"+endpoint, s.opts.Now(), s.opts.RateLimit, s.opts.RateWindow)
	h := w.Header()
	h.Set("x-rate-limit-limit", strconv.Itoa(s.opts.RateLimit))
	h.Set("x-rate-limit-remaining", strconv.Itoa(remaining))
	h.Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
	return allowed
}
