// Package platformhttp builds the HTTP clients the platform connectors use:
// go-retryablehttp underneath for transport errors and retryable statuses,
// with a zap logger that never writes a query string or header (and
// errors whose URLs are redacted likewise, see auth.RedactError), the final
// response handed back intact (so the connector can read the platform's
// error body), and a client-side request rate limit. Retries follow the
// one policy of package retry: each is drawn from the batch's
// retry.Budget and waited with retry.Backoff, honouring the wait the
// platform asks for (Options.Signal). Client.Send reads a final answer
// whole (Answer), and a Vocabulary turns the answers that are not a success
// into the connectors' error vocabulary, describing them with what the
// platform's error body says (ErrorBody, Describe).
package platformhttp

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// Options configure a client. Zero values take the defaults noted.
type Options struct {
	Logger *zap.Logger
	// Attempts is the most tries per request, the first included (default
	// 5). The batch's retry.Budget bounds them too: a request stops being
	// retried when either runs out.
	Attempts int
	// MinWait and MaxWait bound the back-off steps (defaults 1s and 60s);
	// a wait the platform asks for is honoured as asked.
	MinWait, MaxWait time.Duration
	// Signal reads the wait the platform asks for from an answer (default
	// retry.RetryAfter).
	Signal retry.Signal
	// RequestsPerSecond limits requests sent, retries included; 0 means
	// no limit. Burst defaults to 1.
	RequestsPerSecond float64
	Burst             int
	// CheckRetry decides whether a response or error is retryable; nil uses
	// retryablehttp.DefaultRetryPolicy (connection errors, 429, 5xx but 501).
	CheckRetry retryablehttp.CheckRetry
	// Transport is the underlying round tripper (default
	// http.DefaultTransport). Wrap credentials and request signing here so
	// every attempt carries them afresh (X's OAuth 1.0a nonces must not
	// repeat).
	Transport http.RoundTripper
	// Wire is the transport at the bottom of Transport when Transport
	// wraps it (a signer, a token, a rate gate): CloseIdleConnections
	// closes its idle connections too, which http.Client cannot reach
	// through wrappers that do not pass the call on.
	Wire interface{ CloseIdleConnections() }
	// Timeout bounds one attempt (default 60s).
	Timeout time.Duration
	// Policy bounds a request made outside a batch (no retry.Budget in its
	// context, such as a credentials check); Attempts defaults to the
	// client's.
	Policy retry.Policy
}

// Client is a retrying HTTP client for one connection. Every request's
// retries are drawn from the retry.Budget of its context, or from a budget
// of its own when the context carries none.
type Client struct {
	rc  *retryablehttp.Client
	o   Options
	log *zap.Logger
}

// New returns a retrying client for one connection.
func New(o Options) *Client {
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.MinWait <= 0 {
		o.MinWait = time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 60 * time.Second
	}
	o.MaxWait = max(o.MaxWait, o.MinWait)
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Signal == nil {
		o.Signal = retry.RetryAfter
	}
	if o.CheckRetry == nil {
		o.CheckRetry = retryablehttp.DefaultRetryPolicy
	}
	if o.Policy.Attempts <= 0 {
		o.Policy.Attempts = o.Attempts
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
	c := &Client{o: o, rc: retryablehttp.NewClient(), log: loggerOr(o.Logger)}
	c.rc.HTTPClient = &http.Client{Transport: base, Timeout: o.Timeout}
	// checkRetry decides, counts and waits; retryablehttp's own cap and
	// timer stay out of the way.
	c.rc.RetryMax = math.MaxInt32
	c.rc.Backoff = func(time.Duration, time.Duration, int, *http.Response) time.Duration { return 0 }
	c.rc.CheckRetry = c.checkRetry
	c.rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	c.rc.Logger = zapAdapter{log: c.log}
	return c
}

// Do sends req, retrying as the options and the request's budget allow.
// With retryablehttp.PassthroughErrorHandler the last answer comes back
// whatever its status, body intact, so the connector can read the
// platform's error.
func (c *Client) Do(req *retryablehttp.Request) (*http.Response, error) {
	ctx := req.Context()
	st := &request{budget: retry.From(ctx)}
	if st.budget == nil {
		st.budget = c.o.Policy.Budget(1)
	}
	st.count, _ = ctx.Value(ctxKey{}).(*int)
	resp, err := c.rc.Do(req.WithContext(context.WithValue(ctx, requestKey{}, st)))
	// A transport error is a *url.Error holding the request's whole URL.
	return resp, auth.RedactError(err)
}

// StandardClient returns an *http.Client whose requests go through Do, for
// client libraries that take one.
func (c *Client) StandardClient() *http.Client {
	return &http.Client{Transport: roundTripper{c}}
}

// CloseIdleConnections closes the idle connections of the transport, and
// of Options.Wire.
func (c *Client) CloseIdleConnections() {
	c.rc.HTTPClient.CloseIdleConnections()
	if c.o.Wire != nil {
		c.o.Wire.CloseIdleConnections()
	}
}

type roundTripper struct{ c *Client }

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	req, err := retryablehttp.FromRequest(r)
	if err != nil {
		return nil, err
	}
	resp, err := rt.c.Do(req)
	// http.Client wraps the error in a *url.Error again: unwrap this one.
	return resp, UnwrapURL(err)
}

// UnwrapURL drops a *url.Error wrapper, whose text holds the request's
// URL (and so, for some platforms, a token): what is left says what went
// wrong without it.
func UnwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// request is one request's retry state, kept across its attempts.
type request struct {
	budget  *retry.Budget
	retries int
	count   *int // WithRetryCount's counter, or nil
}

type requestKey struct{}

// checkRetry is retryablehttp's CheckRetry: the platform's policy says
// whether the answer is retryable, then the request's attempts, the
// batch's budget and the wait asked for say whether it is retried; the
// back-off is waited here, with the budget's clock.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	ok, cerr := c.o.CheckRetry(ctx, resp, err)
	if cerr != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		return false, cerr
	}
	if !ok {
		return false, nil
	}
	st, _ := ctx.Value(requestKey{}).(*request)
	if st == nil || st.retries+1 >= c.o.Attempts {
		return false, nil
	}
	var asked time.Duration
	if err == nil {
		if d, ok := c.o.Signal(resp, st.budget.Now()); ok {
			asked = d
		}
	}
	wait, ok := st.budget.Grant(c.o.MinWait, c.o.MaxWait, asked)
	if !ok {
		return false, nil // the answer goes back whole: the connector reads it
	}
	if err == nil {
		// Free the connection for the wait; retryablehttp closes the body.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	}
	// retryablehttp's own log line shows no wait: it is waited here.
	c.log.Debug("waiting before a retry", zap.Duration("wait", wait), zap.Int("retry", st.retries+1),
		zap.Duration("asked", asked))
	if err != nil {
		st.budget.Retrying(wait, auth.RedactText(err.Error()))
	} else {
		st.budget.Retrying(wait, resp.Status)
		if asked > 0 || resp.StatusCode == http.StatusTooManyRequests {
			// The platform set the pace: a rate limit, not a failure.
			st.budget.RateLimited(wait)
		}
	}
	if err := st.budget.Sleep(ctx, wait); err != nil {
		// With an error the answer is dropped by net/http without being
		// closed, which would keep its connection and timer alive.
		if resp != nil {
			_ = resp.Body.Close()
		}
		return false, err
	}
	st.retries++
	if st.count != nil {
		*st.count++
	}
	return true, nil
}

func loggerOr(l *zap.Logger) *zap.Logger {
	if l == nil {
		return zap.NewNop()
	}
	return l
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

// CloseIdleConnections closes the idle connections of the transport the
// limiter wraps: http.Client.CloseIdleConnections reaches only the
// transport it holds, so without this a rate-limited client never closed
// any.
func (l *limited) CloseIdleConnections() {
	if c, ok := l.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// zapAdapter is retryablehttp's logger. URLs lose their user information
// and query strings (where tokens and proofs may travel, see
// auth.RedactURL) and request or response values other than plain strings
// and numbers are dropped.
type zapAdapter struct{ log *zap.Logger }

func (z zapAdapter) fields(kv []any) []zap.Field {
	out := make([]zap.Field, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			if k == "url" {
				v = auth.RedactURL(v)
			}
			out = append(out, zap.String(k, auth.RedactText(v)))
		case *url.URL:
			out = append(out, zap.String(k, auth.RedactURL(v.String())))
		case int:
			out = append(out, zap.Int(k, v))
		case time.Duration:
			out = append(out, zap.Duration(k, v))
		case error:
			out = append(out, zap.String(k, auth.RedactText(v.Error())))
		}
	}
	return out
}

func (z zapAdapter) Error(msg string, kv ...any) { z.log.Warn(auth.RedactText(msg), z.fields(kv)...) }
func (z zapAdapter) Info(msg string, kv ...any)  { z.log.Debug(auth.RedactText(msg), z.fields(kv)...) }
func (z zapAdapter) Debug(msg string, kv ...any) { z.log.Debug(auth.RedactText(msg), z.fields(kv)...) }
func (z zapAdapter) Warn(msg string, kv ...any)  { z.log.Warn(auth.RedactText(msg), z.fields(kv)...) }

// ctxKey is unexported so only this package sets it.
type ctxKey struct{}

// WithRetryCount returns a context that counts the retries of requests made
// with it, so a connector can report them in connectors.BatchResult. Use it
// for one request at a time.
func WithRetryCount(ctx context.Context) (context.Context, *int) {
	n := new(int)
	return context.WithValue(ctx, ctxKey{}, n), n
}
