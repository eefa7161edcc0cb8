// Package retry is the one retry policy of audiencesync: how often and how
// long a batch is retried, and the one back-off function every layer waits
// with.
//
// # Who retries what
//
// A batch (one Apply, Ensure, RemoveAll or Replace call of the engine) gets
// one Budget, carried in its context. Two layers draw on it:
//
//   - the HTTP client (connectors/platformhttp) retries transport failures,
//     retryable statuses and the platform's rate limits, waiting what the
//     platform asks for (see Signal);
//   - the engine calls the destination again when it returns a retryable
//     error (connectors.RetryAfter, or an unclassified error), which is what
//     happens once the HTTP client gave up on a request or for failures the
//     HTTP client cannot see.
//
// Every retry of either layer takes one from the same budget, so the layers
// never multiply each other: a batch sent as one request reaches the
// platform at most Policy.Attempts times (DefaultAttempts, 8), whichever
// layer retries. A batch the destination sends as several requests gets
// one first attempt per request plus at most Attempts-1 retries in all; a
// Replace session counts as as many batches as it sends.
//
// A retry starts only if its wait ends within Policy.MaxTime
// (DefaultMaxTime, 15 minutes) of the batch's start; a platform asking for
// a longer wait ends the batch's retries at once (the batch is recorded as
// failed and the next run sends it again). So a batch takes at most
// MaxTime plus one request's timeout.
//
// # The log
//
// A budget the engine starts for a batch announces each retry it grants as
// it happens, at info level on the destination's logger (Announce): what
// is retried, the wait, why (an HTTP status or the error, with any URL's
// query string cut off, since tokens and proofs travel there) and which
// attempt of how many comes next, such as "google retrying batch 12 (add,
// 10000 members) in 4s: 503 Service Unavailable, attempt 2 of 8".
//
// # The back-off
//
// Backoff waits what the platform asked for when it said, exactly (not
// capped, since asking again sooner only earns another refusal); otherwise
// a random time between half and all of initial·2^n, n the batch's retries
// so far, the step capped at max. The signals honoured are those a Signal
// reads from an answer: Retry-After (seconds or an HTTP date) on any
// platform, Meta's X-Business-Use-Case-Usage estimated_time_to_regain_access,
// X's x-rate-limit-reset when x-rate-limit-remaining is 0, and the
// RetryInfo delay of Google's RESOURCE_EXHAUSTED answers. Meta's throttling
// codes on HTTP 400 (4, 17, 32, 613, 80000–80014) make an answer retryable;
// the wait then comes from the usage header or the back-off.
//
// A connector's own holds — Meta's while access is blocked, X's while an
// endpoint's window is spent — wait with Hold, on the batch's sleeper, so
// a test's fake clock (package retrytest) covers them as it covers the
// retries.
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Defaults of a Policy.
const (
	// DefaultAttempts is the most attempts of a batch's request, the first
	// included.
	DefaultAttempts = 8
	// DefaultInitial is the first back-off step.
	DefaultInitial = time.Second
	// DefaultMax caps a back-off step (not a wait the platform asks for).
	DefaultMax = time.Minute
	// DefaultMaxTime bounds the waits of one batch: long enough for an X
	// rate-limit window (15 minutes) to reset.
	DefaultMaxTime = 15 * time.Minute
)

// Policy bounds the retries of one batch. Zero values take the defaults.
type Policy struct {
	// Attempts is the most attempts of a batch's request, the first
	// included: every retry of the HTTP client and of the engine counts.
	Attempts int
	// Initial is the first back-off step of the engine's retries; it
	// doubles per retry up to Max. The HTTP client steps with its own
	// bounds (platformhttp.Options), through the same Backoff.
	Initial time.Duration
	Max     time.Duration
	// MaxTime is how long after the batch's start a retry may still begin.
	MaxTime time.Duration

	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Sleep waits d or until ctx ends (nil: a timer). Tests inject one so
	// that waits cost no time.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a random number in [0, n) (nil: math/rand/v2). It
	// must be safe for concurrent use.
	Jitter func(n int64) int64
}

// WithDefaults returns p with zero values replaced by the defaults.
func (p Policy) WithDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultAttempts
	}
	if p.Initial <= 0 {
		p.Initial = DefaultInitial
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	p.Max = max(p.Max, p.Initial)
	if p.MaxTime <= 0 {
		p.MaxTime = DefaultMaxTime
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Sleep == nil {
		p.Sleep = Sleep
	}
	if p.Jitter == nil {
		p.Jitter = rand.Int64N
	}
	return p
}

// Backoff is the wait before retry number n+1 (n retries made so far):
// asked when the platform asked for a wait (asked > 0), otherwise a random
// time between half and all of initial·2^n, the step capped at max. jitter
// returns a number in [0, n); nil uses math/rand/v2.
func Backoff(initial, max time.Duration, n int, asked time.Duration, jitter func(int64) int64) time.Duration {
	if asked > 0 {
		return asked
	}
	if jitter == nil {
		jitter = rand.Int64N
	}
	step := initial
	for i := 0; i < n && step < max; i++ {
		step *= 2
	}
	step = min(step, max)
	if step <= 0 {
		return 0
	}
	return step/2 + time.Duration(jitter(int64(step/2)+1))
}

// Budget is what is left of one batch's retries. It is safe for
// concurrent use.
type Budget struct {
	p        Policy
	deadline time.Time

	mu      sync.Mutex
	retries int
	// streak counts the retries since the step last made progress
	// (Progress): the exponent of the back-off.
	streak int

	// rateWaits and rateWaited count the waits a rate limit imposed
	// (RateLimited) and their total length.
	rateWaits  int
	rateWaited time.Duration

	// log, dest and what announce retries; log is nil when they are not.
	log        *zap.Logger
	dest, what string
}

// RateLimited records that the batch waits d because of a rate limit: a
// wait the platform asked for (Retry-After, a usage or reset header, a
// RetryInfo delay, a 429 answer) or a connector's own hold while a
// rate-limit window is spent (Hold). Waits of 0 are not counted. The
// engine reports the tally with each batch (RateLimitWaits), which feeds
// the daemon's rate-limit metrics.
func (b *Budget) RateLimited(d time.Duration) {
	if d <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rateWaits++
	b.rateWaited += d
}

// RateLimitWaits is how many rate-limit waits RateLimited recorded, and
// how long they were in all.
func (b *Budget) RateLimitWaits() (int, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rateWaits, b.rateWaited
}

// Announce makes b log every retry reported to Retrying at info level on
// log, naming the destination dest and what is retried (such as "batch 12
// (add, 10000 members)"). It returns b. Neither name may hold contact data.
func (b *Budget) Announce(log *zap.Logger, dest, what string) *Budget {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.log, b.dest, b.what = log, dest, what
	return b
}

// Retrying logs, if b announces (Announce), the retry just granted: that
// it starts after wait, because of reason (an HTTP status line or an
// error's text). URLs in reason lose their query strings and fragments.
// Callers report the retry after Grant and before the wait.
func (b *Budget) Retrying(wait time.Duration, reason string) {
	b.mu.Lock()
	log, dest, what, attempt, attempts := b.log, b.dest, b.what, b.retries+1, b.p.Attempts
	b.mu.Unlock()
	if log == nil {
		return
	}
	reason = cleanReason(reason)
	log.Info(fmt.Sprintf("%s retrying %s in %s: %s, attempt %d of %d", dest, what, wait.Round(time.Millisecond), reason, attempt, attempts),
		zap.String("retrying", what), zap.Duration("wait", wait), zap.String("reason", reason),
		zap.Int("attempt", attempt), zap.Int("attempts", attempts))
}

// queryPart matches the query string and fragment of a URL in a text.
var queryPart = regexp.MustCompile(`(://[^\s?#"']*)[?#][^\s"']*`)

// maxReason bounds a reason in the log: an error body can be long.
const maxReason = 300

func cleanReason(s string) string {
	s = queryPart.ReplaceAllString(strings.TrimSpace(s), "$1")
	if len(s) > maxReason {
		s = strings.ToValidUTF8(s[:maxReason], "") + "…"
	}
	return s
}

// Budget starts the budget of work that counts as batches batches (at
// least one): a Replace session that sends several requests gets the
// retries and the time of as many batches.
func (p Policy) Budget(batches int) *Budget {
	p = p.WithDefaults()
	batches = max(batches, 1)
	p.Attempts = (p.Attempts-1)*batches + 1
	p.MaxTime *= time.Duration(batches)
	return &Budget{p: p, deadline: p.Now().Add(p.MaxTime)}
}

// Retries is how many retries the budget has granted.
func (b *Budget) Retries() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.retries
}

// Now is the budget's clock.
func (b *Budget) Now() time.Time { return b.p.Now() }

// Grant decides whether one more attempt may be made and, if so, counts
// it and returns the wait before it: Backoff with the step bounds initial
// and max, or asked when the platform asked for a wait (asked > 0). It
// reports false when the attempts are spent or the wait would end after
// the batch's time is up.
func (b *Budget) Grant(initial, max, asked time.Duration) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retries+1 >= b.p.Attempts {
		return 0, false
	}
	d := Backoff(initial, max, b.streak, asked, b.p.Jitter)
	if b.p.Now().Add(d).After(b.deadline) {
		return 0, false
	}
	b.retries++
	b.streak++
	return d, true
}

// Progress tells b that a step of several requests moved on (a batch of
// a replace session was acknowledged): the next retry's back-off starts
// again from the initial step, so a long session that meets a few
// transient failures is not slowed to the longest wait. The bounds on
// attempts and on time still count every retry.
func (b *Budget) Progress() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.streak = 0
}

// Sleep waits d with the budget's sleeper, or until ctx ends.
func (b *Budget) Sleep(ctx context.Context, d time.Duration) error { return b.p.Sleep(ctx, d) }

// Wait is Grant, then Sleep for the wait granted. It reports false,
// having waited nothing, when no attempt is granted; an error when ctx
// ended during the wait.
func (b *Budget) Wait(ctx context.Context, initial, max, asked time.Duration) (bool, error) {
	d, ok := b.Grant(initial, max, asked)
	if !ok {
		return false, nil
	}
	if err := b.Sleep(ctx, d); err != nil {
		return false, err
	}
	return true, nil
}

type budgetKey struct{}

// With returns ctx carrying b, for every layer below to draw on.
func With(ctx context.Context, b *Budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// From returns the budget ctx carries, or nil.
func From(ctx context.Context) *Budget {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}

// Hold waits d with the sleeper of the budget ctx carries (Policy.Sleep),
// or Sleep when it carries none. A connector's own holds (a gate keeping
// requests back until a rate-limit window resets) wait with it, so they
// take what the batch's retries take: real time in a run, none with a
// test's fake clock, which records them. A hold is a rate-limit wait:
// the budget counts it (RateLimited).
func Hold(ctx context.Context, d time.Duration) error {
	if b := From(ctx); b != nil {
		b.RateLimited(d)
		return b.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

// Sleep waits d or until ctx ends, whichever is first.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Signal reads the wait a platform asks for from an answer, as of now.
// ok is false when the answer names none.
type Signal func(resp *http.Response, now time.Time) (wait time.Duration, ok bool)

// RetryAfter is the Signal every platform sends: a Retry-After header, in
// seconds or as an HTTP date.
func RetryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	return RetryAfterHeader(resp.Header, now)
}

// RetryAfterHeader reads a Retry-After header, in seconds or as an HTTP
// date (a date in the past is a wait of 0).
func RetryAfterHeader(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Take counts one retry that needs no wait (such as a call repeated at
// once with a refreshed token) against ctx's budget, and reports whether
// it may be made: always when ctx carries no budget.
func Take(ctx context.Context) bool {
	b := From(ctx)
	if b == nil {
		return true
	}
	ok, err := b.Wait(ctx, 0, 0, 0)
	return ok && err == nil
}
