package x

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/connectors/retry"
)

// X budgets requests per endpoint and account in fixed windows and says
// where a window stands in x-rate-limit-remaining and x-rate-limit-reset
// (epoch seconds). rateGate reads them on every answer and, once a
// window's budget is spent, holds every further request to that endpoint —
// across all concurrent batches — until the window resets, instead of
// sending requests bound to fail with 429.
type rateGate struct {
	next http.RoundTripper

	mu      sync.Mutex
	windows map[string]*rateWindow
}

// rateWindow is what X last said about one endpoint's budget.
type rateWindow struct {
	remaining int       // requests left, less those sent since
	reset     time.Time // when the budget is renewed
}

func newRateGate(next http.RoundTripper) *rateGate {
	return &rateGate{next: next, windows: map[string]*rateWindow{}}
}

// RoundTrip waits for budget, sends, and records what the answer says.
func (g *rateGate) RoundTrip(req *http.Request) (*http.Response, error) {
	ep := endpointOf(req.URL.Path)
	if err := g.wait(req.Context(), ep); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	resp, err := g.next.RoundTrip(req)
	if err == nil {
		g.observe(ep, resp.Header, time.Now())
	}
	return resp, err
}

// wait returns once a request to ep may be sent, counting it against the
// known budget. It waits with the batch's sleeper (retry.Hold), as the
// batch's retries do.
func (g *rateGate) wait(ctx context.Context, ep string) error {
	var waited time.Time // the reset of the window waited out, if any
	for {
		g.mu.Lock()
		w := g.windows[ep]
		now := time.Now()
		switch {
		case w == nil:
			g.mu.Unlock()
			return nil
		case w.remaining > 0:
			w.remaining--
			g.mu.Unlock()
			return nil
		case !now.Before(w.reset) || w.reset.Equal(waited):
			// The window has renewed (or was waited out on a test's fake
			// clock, which the wall clock does not see); the next answer
			// says by how much.
			delete(g.windows, ep)
			g.mu.Unlock()
			return nil
		}
		d := w.reset.Sub(now)
		waited = w.reset
		g.mu.Unlock()
		if err := retry.Hold(ctx, d); err != nil {
			return err
		}
	}
}

// observe records the budget an answer reports.
func (g *rateGate) observe(ep string, h http.Header, now time.Time) {
	remaining, reset, ok := rateHeaders(h)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	w := g.windows[ep]
	if w == nil {
		w = &rateWindow{}
		g.windows[ep] = w
	}
	switch {
	case reset.After(w.reset):
		// A newer window: its count is the truth.
		w.remaining, w.reset = remaining, reset
	case reset.Equal(w.reset) && remaining < w.remaining:
		// Same window, answered later than requests already counted.
		w.remaining = remaining
	}
	if !now.Before(w.reset) {
		delete(g.windows, ep)
	}
}

// rateHeaders reads x-rate-limit-remaining and x-rate-limit-reset. The
// reset is given in whole seconds, so the budget is renewed within the
// second after it: the returned time is the end of that second.
func rateHeaders(h http.Header) (remaining int, reset time.Time, ok bool) {
	rem, err1 := strconv.Atoi(strings.TrimSpace(h.Get("x-rate-limit-remaining")))
	sec, err2 := strconv.ParseInt(strings.TrimSpace(h.Get("x-rate-limit-reset")), 10, 64)
	if err1 != nil || err2 != nil || rem < 0 {
		return 0, time.Time{}, false
	}
	return rem, time.Unix(sec+1, 0), true
}

// rateLimitWait is how long an answer asks the client to wait: its
// Retry-After, or the time to the window's reset when its budget is spent.
func rateLimitWait(h http.Header, now time.Time) (time.Duration, bool) {
	if d, ok := retry.RetryAfterHeader(h, now); ok {
		return d, true
	}
	if rem, reset, ok := rateHeaders(h); ok && rem == 0 {
		return max(reset.Sub(now), 0), true
	}
	return 0, false
}

// retrySignal is the HTTP client's retry.Signal: what X asked for.
func retrySignal(resp *http.Response, now time.Time) (time.Duration, bool) {
	return rateLimitWait(resp.Header, now)
}

// endpointOf names the rate-limited endpoint a path belongs to, as X
// budgets them: the users endpoint, custom audiences, and the account.
func endpointOf(path string) string {
	switch {
	case strings.HasSuffix(path, "/users"):
		return "users"
	case strings.Contains(path, "/custom_audiences"):
		return "custom_audiences"
	}
	return "accounts"
}
