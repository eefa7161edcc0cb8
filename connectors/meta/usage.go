package meta

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	fb "github.com/huandu/facebook/v2"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/connectors/retry"
)

// usageHeader is where Graph reports business use case rate-limit usage:
// JSON keyed by business id, each a list of {type, call_count,
// total_cputime, total_time (percentages), estimated_time_to_regain_access
// (minutes)}.
const usageHeader = "X-Business-Use-Case-Usage"

// slowFrom is the usage percentage above which requests are spaced out.
const slowFrom = 75

// usageOf reads the usage header: the highest percentage used and the
// longest time to regain access; 0, 0 when the header is absent or
// unreadable.
func usageOf(h http.Header) (pct int, regain time.Duration) {
	v := h.Get(usageHeader)
	if v == "" {
		return 0, 0
	}
	var u fb.BusinessUseCaseUsage
	if json.Unmarshal([]byte(v), &u) != nil {
		return 0, 0
	}
	return usageLevel(u)
}

func usageLevel(u fb.BusinessUseCaseUsage) (pct int, regain time.Duration) {
	for _, limits := range u {
		for _, l := range limits {
			if l == nil {
				continue
			}
			pct = max(pct, l.CallCount, l.TotalCPUTime, l.TotalTime)
			regain = max(regain, time.Duration(l.EstimatedTimeToRegainAccess)*time.Minute)
		}
	}
	return pct, regain
}

// pauseFor is the spacing between requests at usage pct: nothing up to
// slowFrom, growing linearly to full at 100%.
func pauseFor(pct int, full time.Duration) time.Duration {
	if pct <= slowFrom {
		return 0
	}
	pct = min(pct, 100)
	return full * time.Duration(pct-slowFrom) / time.Duration(100-slowFrom)
}

// governor is the transport under the retrying client. It reads the usage
// header of every answer and paces the requests that follow: while Meta
// says access is blocked, nothing is sent; while usage is above slowFrom,
// requests are spaced out in proportion, so the limit is approached
// slowly instead of hit. Retries pass through it too.
type governor struct {
	next     http.RoundTripper
	slowdown time.Duration
	log      *zap.Logger
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	pct     int
	pause   time.Duration
	blocked time.Time // no request before this
	slot    time.Time // the next request's earliest start
}

func newGovernor(slowdown time.Duration, log *zap.Logger) *governor {
	// A hold waits with the batch's sleeper (retry.Hold), as its retries do.
	return &governor{slowdown: slowdown, log: log, now: time.Now, sleep: retry.Hold}
}

// RoundTrip waits for the request's turn, sends it and reads the usage
// the answer reports.
func (g *governor) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := g.sleep(r.Context(), g.reserve()); err != nil {
		return nil, err
	}
	resp, err := g.next.RoundTrip(r)
	if err == nil {
		g.observe(resp.Header)
	}
	return resp, err
}

// reserve books the next request's start and says how long to wait for it.
func (g *governor) reserve() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	start := now
	if g.slot.After(start) {
		start = g.slot
	}
	if g.blocked.After(start) {
		start = g.blocked
	}
	g.slot = start.Add(g.pause)
	return start.Sub(now)
}

// observe takes in the usage an answer reports. An answer without the
// header means usage is not being reported as high.
func (g *governor) observe(h http.Header) {
	pct, regain := usageOf(h)
	g.mu.Lock()
	defer g.mu.Unlock()
	if regain > 0 {
		g.blocked = g.now().Add(regain)
		g.log.Warn("Meta rate limit reached: holding requests", zap.Duration("regain_access_in", regain))
	}
	if (pct > slowFrom) != (g.pct > slowFrom) {
		if pct > slowFrom {
			g.log.Info("Meta rate-limit usage is high: slowing down", zap.Int("usage_pct", pct))
		} else {
			g.log.Info("Meta rate-limit usage is back to normal", zap.Int("usage_pct", pct))
		}
	}
	g.pct = pct
	g.pause = pauseFor(pct, g.slowdown)
}
