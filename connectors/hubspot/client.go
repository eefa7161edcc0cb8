package hubspot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// tuning holds what tests shrink: retry pacing and page sizes.
type tuning struct {
	platformconn.Pacing
	pageSize  int
	batchSize int
}

func defaultTuning() tuning {
	return tuning{Pacing: platformconn.DefaultPacing(), pageSize: MembershipPage, batchSize: BatchRead}
}

// maxBody bounds an answer read into memory: a batch of 100 contacts with
// a few properties is tens of kilobytes.
const maxBody = 16 << 20

// client is one operation's HubSpot client: its tokens, its pacer and the
// retrying HTTP client over both.
type client struct {
	base   string
	http   *platformhttp.Client
	tokens *tokens
	pacer  *pacer
}

// open sets up a client for one operation, starting the in-process
// sandbox when the connection asks for it.
func (s *Source) open(ctx context.Context) (*client, error) {
	base, err := s.crm.BaseURL(ctx)
	if err != nil {
		return nil, err
	}
	base = strings.TrimRight(base, "/")
	c := &client{base: base, pacer: newPacer(s.crm.Now, s.tune.Sleep)}
	c.tokens = newTokens(ctx, s.creds, base+"/oauth/v1/token")
	wire := platformconn.Wire(s.crm.Concurrency + 2)
	c.http = s.crm.HTTP(s.tune.Pacing, platformhttp.Options{
		Signal:     c.signal,
		CheckRetry: c.checkRetry,
		Transport:  bearer{t: c.tokens, next: paced{p: c.pacer, next: wire}},
		Wire:       wire,
	})
	return c, nil
}

func (c *client) close() { c.http.CloseIdleConnections() }

// answer is a response read whole.
type answer struct {
	status int
	body   []byte
}

// call sends one request (JSON body when in is not nil) and reads the
// answer, whatever its status; only a request that got no answer, or one
// stopped by the daily limit or refused credentials, is an error.
func (c *client) call(ctx context.Context, method, path string, query url.Values, in any) (answer, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := platformhttp.NewJSONRequest(ctx, method, u, in)
	if err != nil {
		return answer{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) || errors.Is(err, errCredentials) {
			return answer{}, platformhttp.UnwrapURL(err)
		}
		if ctx.Err() != nil {
			return answer{}, ctx.Err()
		}
		return answer{}, fmt.Errorf("no answer from HubSpot after retries (%w): check the network and endpoint, then run again", platformhttp.UnwrapURL(err))
	}
	defer resp.Body.Close()
	data, err := platformhttp.ReadAnswer(resp, maxBody, "HubSpot")
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode, body: data}
	if a.status == http.StatusTooManyRequests && decodeError(data).daily() {
		return answer{}, &LimitError{Daily: c.pacer.dailyLimit()}
	}
	return a, nil
}

// daily reports whether a 429 is the daily limit rather than a rolling
// window (TEN_SECONDLY_ROLLING, SECONDLY). A body that names no policy
// (newer ones may say only category RATE_LIMITS) is read by its message.
func (e apiError) daily() bool {
	if e.PolicyName != "" {
		return strings.EqualFold(e.PolicyName, "DAILY")
	}
	return strings.Contains(strings.ToLower(e.Message), "daily")
}

func (p *pacer) dailyLimit() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.daily, 0)
}

// checkRetry is the retry decision of every attempt: transport failures
// and 5xx as usual, a rolling-window 429 (never the daily one), and an
// OAuth token HubSpot reports expired, once refreshed.
func (c *client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) || errors.Is(err, errCredentials) {
			return false, err
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return !peekError(resp).daily(), nil
	case resp.StatusCode == http.StatusUnauthorized:
		e := peekError(resp)
		used := strings.TrimPrefix(resp.Request.Header.Get("Authorization"), "Bearer ")
		return e.Category == "EXPIRED_AUTHENTICATION" && c.tokens.expired(used), nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, nil)
}

// signal is the wait HubSpot asks for: Retry-After when sent; for a
// rolling 429 without one, until the window has room; a refreshed token
// is tried at once.
func (c *client) signal(resp *http.Response, now time.Time) (time.Duration, bool) {
	if d, ok := retry.RetryAfter(resp, now); ok {
		return d, true
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return c.pacer.untilFree(), true
	case http.StatusUnauthorized:
		return time.Millisecond, true
	}
	return 0, false
}

// peekError decodes an error body and puts it back for whoever reads the
// answer next.
func peekError(resp *http.Response) apiError {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return decodeError(data)
}

// failure turns an unexpected answer to what into an error that says what
// to do. notFound, when set, is the advice for a 404.
func failure(what string, a answer, notFound string) error {
	e := decodeError(a.body)
	detail := describe(a.status, e)
	switch {
	case a.status == http.StatusNotFound && notFound != "":
		return fmt.Errorf("%s: %s (%s)", what, notFound, detail)
	case a.status == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w (%s): check access_token (the private app's token, under Settings → Integrations → Private apps) "+
			"or the OAuth app's refresh_token, and update the secret", what, errCredentials, detail)
	case a.status == http.StatusForbidden:
		return fmt.Errorf("%s: HubSpot denied access (%s): give the private or OAuth app the crm.lists.read and crm.objects.contacts.read scopes", what, detail)
	case a.status == http.StatusTooManyRequests:
		return fmt.Errorf("%s: HubSpot kept answering 429 (%s) after the retries allowed: other integrations may be using this account's limit; run again later, or lower requests_per_second", what, detail)
	case a.status >= 500:
		return fmt.Errorf("%s: HubSpot answered %s after the retries allowed: run again later; if it persists see status.hubspot.com", what, detail)
	}
	return fmt.Errorf("%s: unexpected answer from HubSpot (%s)", what, detail)
}

// describe is an answer's status and error fields, for messages: HubSpot's
// messages name no contact data, and the correlation id is what HubSpot's
// support asks for.
func describe(status int, e apiError) string {
	parts := []string{fmt.Sprintf("HTTP %d", status)}
	for _, f := range []string{e.Category, e.PolicyName} {
		if f != "" {
			parts = append(parts, f)
		}
	}
	if m := e.Message; m != "" {
		if len(m) > 200 {
			m = m[:200] + "…"
		}
		parts = append(parts, fmt.Sprintf("%q", m))
	}
	if e.CorrelationID != "" {
		parts = append(parts, "correlation id "+e.CorrelationID)
	}
	return strings.Join(parts, ", ")
}
