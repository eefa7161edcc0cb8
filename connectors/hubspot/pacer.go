package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// HubSpot's rate-limit headers.
const (
	headerMax            = "X-HubSpot-RateLimit-Max"
	headerRemaining      = "X-HubSpot-RateLimit-Remaining"
	headerInterval       = "X-HubSpot-RateLimit-Interval-Milliseconds"
	headerDaily          = "X-HubSpot-RateLimit-Daily"
	headerDailyRemaining = "X-HubSpot-RateLimit-Daily-Remaining"
)

// Until an answer states the limit, the source assumes the lowest HubSpot
// grants a private app: 100 requests per rolling 10 seconds.
const (
	defaultMax      = 100
	defaultInterval = 10 * time.Second
)

// LimitError is HubSpot's daily request limit for the account, used up.
// The read stops at once: retrying cannot help before the limit resets.
type LimitError struct {
	// Daily is the account's daily limit, when HubSpot stated it (0 if not).
	Daily int64
}

func (e *LimitError) Error() string {
	limit := ""
	if e.Daily > 0 {
		limit = fmt.Sprintf(" (%d requests)", e.Daily)
	}
	return "HubSpot's daily API request limit for this account" + limit + " is used up, so the read stopped and nothing is removed: " +
		"run the sync again after the limit resets at midnight in the HubSpot account's time zone, " +
		"or free some of the limit (other integrations of the account share it)"
}

// pacer keeps requests within HubSpot's rolling window as HubSpot's own
// answers state it, so the source slows down before HubSpot would answer
// 429. It counts requests from the moment their answer arrives, which is
// no earlier than HubSpot counted them, so its window never runs ahead of
// HubSpot's. It is safe for concurrent use.
type pacer struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	max      int
	interval time.Duration
	// remaining is what the last answer said is left in the window; -1
	// when unknown.
	remaining int
	// daily and dailyLeft are the account's daily limit and what is left
	// of it; -1 when unknown (OAuth answers do not say).
	daily, dailyLeft int64
	// done holds the arrival times of answers still inside the window,
	// oldest first.
	done     []time.Time
	inflight int
	// wake is closed when a request finishes, for waiters that wait on
	// requests in flight.
	wake chan struct{}
}

func newPacer(now func() time.Time, sleep func(context.Context, time.Duration) error) *pacer {
	return &pacer{now: now, sleep: sleep, max: defaultMax, interval: defaultInterval,
		remaining: -1, daily: -1, dailyLeft: -1, wake: make(chan struct{})}
}

// acquire waits until one more request fits the window, and counts it in
// flight. It fails with a LimitError once the daily limit is spent.
func (p *pacer) acquire(ctx context.Context) error {
	for {
		wait, wake, err := p.try()
		if err != nil || (wait == 0 && wake == nil) {
			return err
		}
		if wake == nil {
			if err := p.sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// try takes a slot (wait 0), or says how long to wait or which signal to
// wait for.
func (p *pacer) try() (time.Duration, <-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dailyLeft == 0 {
		return 0, nil, &LimitError{Daily: max(p.daily, 0)}
	}
	if p.dailyLeft > 0 && int64(p.inflight) >= p.dailyLeft {
		return 0, p.wake, nil // the last few requests of the day: see how they end
	}
	now := p.now()
	cut := now.Add(-p.interval)
	i := 0
	for i < len(p.done) && !p.done[i].After(cut) {
		i++
	}
	p.done = p.done[i:]
	full := len(p.done)+p.inflight >= p.max
	// HubSpot may count requests this process did not send (other
	// integrations of the account): its remaining count is honoured too.
	starved := p.remaining >= 0 && p.inflight >= p.remaining
	if !full && !starved {
		p.inflight++
		return 0, nil, nil
	}
	if len(p.done) == 0 {
		if p.inflight > 0 {
			return 0, p.wake, nil
		}
		// The window is full of requests of others: wait it out, then
		// learn the count afresh.
		p.remaining = -1
		return p.interval, nil, nil
	}
	if starved {
		p.remaining = -1
	}
	return max(p.done[0].Add(p.interval).Sub(now), time.Millisecond), nil, nil
}

// release counts a request that got its answer (resp nil when it got
// none) and learns the limits the answer states.
func (p *pacer) release(resp *http.Response) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	p.done = append(p.done, p.now())
	close(p.wake)
	p.wake = make(chan struct{})
	if resp == nil {
		return
	}
	h := resp.Header
	if n, ok := headerInt(h, headerMax); ok && n > 0 {
		p.max = int(n)
	}
	if n, ok := headerInt(h, headerInterval); ok && n > 0 {
		p.interval = time.Duration(n) * time.Millisecond
	}
	if n, ok := headerInt(h, headerRemaining); ok && n >= 0 {
		p.remaining = int(n)
	}
	if n, ok := headerInt(h, headerDaily); ok && n > 0 {
		p.daily = n
	}
	if n, ok := headerInt(h, headerDailyRemaining); ok && n >= 0 {
		p.dailyLeft = n
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		p.remaining = 0
	}
}

// untilFree is how long until the window has room again, for a rolling
// 429 that names no wait.
func (p *pacer) untilFree() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.done) == 0 {
		return p.interval
	}
	return max(p.done[0].Add(p.interval).Sub(p.now()), time.Millisecond)
}

func headerInt(h http.Header, name string) (int64, bool) {
	v := h.Get(name)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// paced is the transport that holds each request until the pacer lets it
// go, then tells the pacer how it ended.
type paced struct {
	p    *pacer
	next http.RoundTripper
}

func (t paced) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := t.p.acquire(r.Context()); err != nil {
		return nil, err
	}
	resp, err := t.next.RoundTrip(r)
	t.p.release(resp)
	return resp, err
}
