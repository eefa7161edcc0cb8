// Package platformhttp builds the HTTP clients the platform connectors use:
// go-retryablehttp underneath for transport errors and retryable statuses,
// with a zap logger that never writes a query string or header, the final
// response handed back intact (so the connector can read the platform's
// error body), jittered exponential back-off that honours Retry-After, and a
// client-side request rate limit.
package platformhttp

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Options configure a client. Zero values take the defaults noted.
type Options struct {
	Logger *zap.Logger
	// Attempts is the most tries per request, the first included (default 5).
	Attempts int
	// MinWait and MaxWait bound the back-off (defaults 1s and 60s).
	MinWait, MaxWait time.Duration
	// RequestsPerSecond limits requests sent, retries included; 0 means
	// no limit. Burst defaults to 1.
	RequestsPerSecond float64
	Burst             int
	// CheckRetry decides whether a response or error is retried; nil uses
	// retryablehttp.DefaultRetryPolicy (connection errors, 429, 5xx but 501).
	CheckRetry retryablehttp.CheckRetry
	// PrepareRetry runs before every retry, for example to sign the request
	// afresh (X's OAuth 1.0a nonces must not repeat).
	PrepareRetry retryablehttp.PrepareRetry
	// Transport is the underlying round tripper (default
	// http.DefaultTransport). Wrap credentials here so every attempt
	// carries them.
	Transport http.RoundTripper
	// Timeout bounds one attempt (default 60s).
	Timeout time.Duration
}

// New returns a retrying client for one connection.
func New(o Options) *retryablehttp.Client {
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.MinWait <= 0 {
		o.MinWait = time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 60 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	base := o.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if o.RequestsPerSecond > 0 {
		burst := o.Burst
		if burst <= 0 {
			burst = 1
		}
		base = &limited{next: base, lim: rate.NewLimiter(rate.Limit(o.RequestsPerSecond), burst)}
	}
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: base, Timeout: o.Timeout}
	c.RetryMax = o.Attempts - 1
	c.RetryWaitMin = o.MinWait
	c.RetryWaitMax = o.MaxWait
	c.Backoff = Backoff
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	c.CheckRetry = o.CheckRetry
	if c.CheckRetry == nil {
		c.CheckRetry = retryablehttp.DefaultRetryPolicy
	}
	c.PrepareRetry = o.PrepareRetry
	c.Logger = zapAdapter{log: loggerOr(o.Logger)}
	c.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, attempt int) {
		if n, ok := req.Context().Value(ctxKey{}).(*int); ok && attempt > 0 {
			*n++
		}
	}
	return c
}

func loggerOr(l *zap.Logger) *zap.Logger {
	if l == nil {
		return zap.NewNop()
	}
	return l
}

// Backoff waits what the server asked for (Retry-After in seconds or as an
// HTTP date, on any status) or, failing that, a jittered exponential step:
// a random time between half and all of min·2^attempt, capped at max.
func Backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if d, ok := RetryAfter(resp); ok {
		return d
	}
	step := min << uint(attempt)
	if step <= 0 || step > max {
		step = max
	}
	return step/2 + rand.N(step/2+1)
}

// RetryAfter reads a Retry-After header, in seconds or as an HTTP date.
func RetryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// limited waits for the rate limiter before each request.
type limited struct {
	next http.RoundTripper
	lim  *rate.Limiter
}

func (l *limited) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := l.lim.Wait(r.Context()); err != nil {
		return nil, err
	}
	return l.next.RoundTrip(r)
}

// zapAdapter is retryablehttp's logger. URLs lose their query strings (where
// tokens and proofs may travel) and request or response values other than
// plain strings and numbers are dropped.
type zapAdapter struct{ log *zap.Logger }

func (z zapAdapter) fields(kv []any) []zap.Field {
	out := make([]zap.Field, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			if k == "url" {
				v = redactURL(v)
			}
			out = append(out, zap.String(k, redactText(v)))
		case *url.URL:
			out = append(out, zap.String(k, redactURL(v.String())))
		case int:
			out = append(out, zap.Int(k, v))
		case time.Duration:
			out = append(out, zap.Duration(k, v))
		case error:
			out = append(out, zap.String(k, redactText(v.Error())))
		}
	}
	return out
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable url]"
	}
	u.RawQuery, u.User, u.Fragment = "", nil, ""
	return u.String()
}

// redactText strips query strings from URLs inside a message
// (retryablehttp writes "GET https://…?… (status: 500)").
func redactText(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	words := strings.Fields(s)
	for i, w := range words {
		if strings.Contains(w, "://") {
			words[i] = redactURL(w)
		}
	}
	return strings.Join(words, " ")
}

func (z zapAdapter) Error(msg string, kv ...any) { z.log.Warn(redactText(msg), z.fields(kv)...) }
func (z zapAdapter) Info(msg string, kv ...any)  { z.log.Debug(redactText(msg), z.fields(kv)...) }
func (z zapAdapter) Debug(msg string, kv ...any) { z.log.Debug(redactText(msg), z.fields(kv)...) }
func (z zapAdapter) Warn(msg string, kv ...any)  { z.log.Warn(redactText(msg), z.fields(kv)...) }

// ctxKey is unexported so only this package sets it.
type ctxKey struct{}

// WithRetryCount returns a context that counts the retries of requests made
// with it, so a connector can report them. Use it for one request at a time.
func WithRetryCount(ctx context.Context) (context.Context, *int) {
	n := new(int)
	return context.WithValue(ctx, ctxKey{}, n), n
}
