package salesforce

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// tuning holds what settings and tests change: versions, thresholds,
// page sizes and retry and poll pacing.
type tuning struct {
	version       string
	bulkThreshold int64
	bulkPage      int
	bulkTimeout   time.Duration
	restBatch     int
	platformconn.Pacing
	pollMin, pollMax time.Duration
}

func defaultTuning() tuning {
	return tuning{version: DefaultAPIVersion, bulkThreshold: DefaultBulkThreshold, bulkPage: DefaultBulkPage,
		bulkTimeout: DefaultBulkTimeout, Pacing: platformconn.DefaultPacing(),
		pollMin: 500 * time.Millisecond, pollMax: 15 * time.Second}
}

// maxBody bounds a JSON answer read into memory: a REST query page of
// 2,000 records with a few fields is a few megabytes.
const maxBody = 64 << 20

// client is one operation's Salesforce client: its session and the
// retrying HTTP client that carries it.
type client struct {
	login    string // the login URL, without a trailing slash
	audience string // the JWT assertion's aud
	version  string
	creds    credentials
	sess     *session
	http     *platformhttp.Client
	log      *zap.Logger
	now      func() time.Time
}

// open authenticates one operation's client, starting the in-process
// sandbox when the connection asks for it.
func (s *Source) open(ctx context.Context) (*client, error) {
	login := s.login
	if login == "" {
		base, err := s.crm.BaseURL(ctx)
		if err != nil {
			return nil, err
		}
		login = strings.TrimRight(base, "/")
	}
	c := &client{login: login, audience: audienceOf(login), version: s.tune.version, creds: s.creds,
		sess: &session{}, log: s.crm.Log, now: s.crm.Now}
	// The operation's own connection pool, so that closing it at the end
	// of the operation closes only its connections, not every idle
	// connection of the process (http.DefaultTransport is shared).
	wire := platformconn.Wire(s.crm.Concurrency + 2)
	c.http = s.crm.HTTP(s.tune.Pacing, platformhttp.Options{
		Signal:     c.signal,
		CheckRetry: c.checkRetry,
		Transport:  bearer{s: c.sess, next: wire},
		Wire:       wire,
		Timeout:    5 * time.Minute, // a Bulk results page of 100,000 rows streams for a while
	})
	if err := c.authenticate(ctx); err != nil {
		return nil, fmt.Errorf("salesforce: %w", err)
	}
	return c, nil
}

// audienceOf is the aud claim for a login URL: Salesforce wants
// https://login.salesforce.com or https://test.salesforce.com for those
// hosts, and the URL itself for a My Domain or a replica.
func audienceOf(login string) string {
	u, err := url.Parse(login)
	if err == nil && (u.Host == "login.salesforce.com" || u.Host == "test.salesforce.com") {
		return "https://" + u.Host
	}
	return login
}

func (c *client) close() { c.http.CloseIdleConnections() }

// api is the path of an API resource under the version in use.
func (c *client) api(resource string) string { return "/services/data/v" + c.version + resource }

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// call sends one API request (JSON body when in is not nil) to the
// instance and reads the answer, whatever its status. path may carry its
// own query (a nextRecordsUrl).
func (c *client) call(ctx context.Context, method, path string, query url.Values, in any) (answer, error) {
	resp, err := c.do(ctx, method, path, query, in, nil)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	return readAnswer(resp)
}

func readAnswer(resp *http.Response) (answer, error) {
	data, err := platformhttp.ReadAnswer(resp, maxBody, "Salesforce")
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// do sends one API request and returns the response unread; the caller
// closes its body. hdr adds headers (Accept defaults to JSON). A
// REQUEST_LIMIT_EXCEEDED answer is returned as a *LimitError.
func (c *client) do(ctx context.Context, method, path string, query url.Values, in any, hdr map[string]string) (*http.Response, error) {
	_, instance := c.sess.current()
	u := instance + path
	if len(query) > 0 {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		u += sep + query.Encode()
	}
	req, err := platformhttp.NewJSONRequest(ctx, method, u, in)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.noAnswer(ctx, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// Re-authenticating after INVALID_SESSION_ID failed: its error
		// says what to do, the 401 does not.
		c.sess.mu.Lock()
		authErr := c.sess.err
		c.sess.mu.Unlock()
		if authErr != nil {
			_ = resp.Body.Close()
			return nil, authErr
		}
	}
	if resp.StatusCode == http.StatusForbidden {
		// The daily limit's answer is a short error list; whoever reads
		// the response next still gets all of it.
		body, rerr := platformhttp.PeekBody(resp, 1<<16)
		if rerr != nil {
			_ = resp.Body.Close()
			return nil, fmt.Errorf("read Salesforce's answer: %w", rerr)
		}
		if hasCode(decodeErrors(body), "REQUEST_LIMIT_EXCEEDED") {
			_ = resp.Body.Close()
			return nil, limitError(resp.Header)
		}
	}
	return resp, nil
}

// send sends a request built by the caller and reads the answer.
func (c *client) send(ctx context.Context, req *retryablehttp.Request) (answer, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, c.noAnswer(ctx, err)
	}
	defer resp.Body.Close()
	return readAnswer(resp)
}

// noAnswer is the error of a request that got no usable answer.
func (c *client) noAnswer(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c.sess.mu.Lock()
	authErr := c.sess.err
	c.sess.mu.Unlock()
	if authErr != nil {
		return authErr
	}
	return fmt.Errorf("no answer from Salesforce after retries (%w): check the network and the login URL or endpoint, then run again", platformhttp.UnwrapURL(err))
}

// checkRetry is the retry decision of every attempt: transport failures
// and 5xx as usual, and an access token Salesforce reports invalid, once
// replaced.
func (c *client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err != nil || resp.StatusCode != http.StatusUnauthorized || strings.HasSuffix(resp.Request.URL.Path, tokenPath) {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	body, _ := platformhttp.PeekBody(resp, 1<<16)
	if !hasCode(decodeErrors(body), "INVALID_SESSION_ID") {
		return false, nil
	}
	used := strings.TrimPrefix(resp.Request.Header.Get("Authorization"), "Bearer ")
	return c.reauthenticate(ctx, used), nil
}

// signal is the wait Salesforce asks for (Retry-After); a replaced token
// is tried at once.
func (c *client) signal(resp *http.Response, now time.Time) (time.Duration, bool) {
	if d, ok := retry.RetryAfter(resp, now); ok {
		return d, true
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return time.Millisecond, true
	}
	return 0, false
}

// TimeLayout is how Salesforce writes datetimes: milliseconds and a zone
// offset without a colon (2018-12-10T17:50:19.000+0000), which RFC 3339
// parsing refuses.
const TimeLayout = "2006-01-02T15:04:05.000-0700"

// ParseTime reads a Salesforce datetime; it also takes RFC 3339 (a Z or
// an offset with a colon), which other implementations send.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(TimeLayout, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a Salesforce datetime (like 2018-12-10T17:50:19.000+0000)", s)
	}
	return t, nil
}

// parseMillis reads issued_at: milliseconds since the epoch as a string.
func parseMillis(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(n).UTC(), true
}
