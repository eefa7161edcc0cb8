package linkedin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// baseURL returns the API base URL, without a trailing slash; with
// sandbox: true the in-process sandbox is started on first use.
func (d *Destination) baseURL(ctx context.Context) (string, error) {
	u, err := d.conn.BaseURL(ctx)
	return strings.TrimRight(u, "/"), err
}

// maxResponseBytes bounds an answer: the largest is a batch's element
// statuses, or a page of segments.
const maxResponseBytes = 8 << 20

// response is one final answer of the API, retries done.
type response struct {
	status  int
	header  http.Header
	body    []byte
	retries int
}

// apiError is LinkedIn's error body.
type apiError struct {
	Status           int    `json:"status"`
	ServiceErrorCode int    `json:"serviceErrorCode"`
	Code             string `json:"code"`
	Message          string `json:"message"`
}

func (r *response) apiError() apiError {
	var e apiError
	_ = json.Unmarshal(r.body, &e) // a body of another shape has nothing to report
	return e
}

// describe summarises an error answer: status, code and service code,
// and the message when withMessages (never for the users endpoint, whose
// messages could quote a value sent).
func (r *response) describe(withMessages bool) string {
	e := r.apiError()
	out := fmt.Sprintf("HTTP %d", r.status)
	if e.Code != "" {
		out += " " + e.Code
	}
	if e.ServiceErrorCode != 0 {
		out += fmt.Sprintf(" (serviceErrorCode %d)", e.ServiceErrorCode)
	}
	if withMessages && e.Message != "" {
		out += ": " + auth.RedactText(e.Message)
	}
	return out
}

// request is one API call.
type request struct {
	method string
	path   string // below /rest
	query  string // encoded, without "?"
	// batch sends X-RestLi-Method: BATCH_CREATE.
	batch bool
	body  any // JSON, or nil
}

// call sends a request through the retrying client and reads the final
// answer, whatever its status. When LinkedIn refuses the access token
// and another can be fetched, it is fetched and the request sent once
// more, which the batch's retry budget counts. It fails only when no
// answer came.
func (d *Destination) call(ctx context.Context, rq request) (*response, error) {
	base, err := d.baseURL(ctx)
	if err != nil {
		return nil, err
	}
	var body []byte
	if rq.body != nil {
		if body, err = json.Marshal(rq.body); err != nil {
			return nil, fmt.Errorf("encode the request: %w", err)
		}
	}
	u := base + "/rest" + rq.path
	if rq.query != "" {
		u += "?" + rq.query
	}
	for refreshed := false; ; refreshed = true {
		token, gen, err := d.accessToken(ctx)
		if err != nil {
			return nil, err
		}
		r, err := d.send(ctx, rq, u, token, body)
		if err != nil {
			return nil, err
		}
		if r.status != http.StatusUnauthorized || refreshed || !d.tokens.refused(gen) || !retry.Take(ctx) {
			return r, nil
		}
		d.log.Info("access token refused; fetching another and sending again", zap.String("call", redactPath(rq.path)))
	}
}

// send makes one request with token.
func (d *Destination) send(ctx context.Context, rq request, u, token string, body []byte) (*response, error) {
	ctx, retries := platformhttp.WithRetryCount(ctx)
	var rb any
	if body != nil {
		rb = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, rq.method, u, rb)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	h := req.Header
	h.Set("Authorization", "Bearer "+token)
	h.Set("LinkedIn-Version", d.version)
	h.Set("X-Restli-Protocol-Version", "2.0.0")
	h.Set("Accept", "application/json")
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	if rq.batch {
		h.Set("X-RestLi-Method", "BATCH_CREATE")
	}
	resp, err := d.http.Do(req)
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: no answer from LinkedIn after retries: %w", rq.method, redactPath(rq.path), err)
	}
	defer resp.Body.Close()
	b, err := platformhttp.ReadAnswer(resp, maxResponseBytes, "LinkedIn")
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", rq.method, redactPath(rq.path), err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b, retries: *retries}, nil
}

// redactPath names an endpoint in messages without ids.
func redactPath(path string) string {
	switch {
	case strings.HasSuffix(path, "/users"):
		return "dmpSegments/{id}/users"
	case strings.HasPrefix(path, "/dmpSegments/"):
		return "dmpSegments/{id}"
	case strings.HasPrefix(path, "/adAccounts/"):
		return "adAccounts/{id}"
	}
	return strings.TrimPrefix(path, "/")
}

// statusError turns an answer that is not a success into the engine's
// error vocabulary. what says what was being done.
func (d *Destination) statusError(r *response, what string, withMessages bool) error {
	detail := r.describe(withMessages)
	switch {
	case r.status == http.StatusUnauthorized:
		return connectors.Reauthenticate(fmt.Errorf("%s: LinkedIn refused the access token (%s): run the developer app's OAuth flow again for a member with a role on the ad account and update refresh_token (or access_token)",
			what, detail))
	case r.status == http.StatusForbidden:
		return connectors.Fatal(fmt.Errorf("%s: LinkedIn refused access to ad account %s (%s): the app needs the rw_dmp_segments permission (LinkedIn's Audiences program), and the member who authorised it a role other than VIEWER on the account",
			what, d.account, detail))
	case r.status == http.StatusUpgradeRequired:
		return connectors.Fatal(fmt.Errorf("%s: LinkedIn no longer serves LinkedIn-Version %s (%s): set api_version to a recent month (YYYYMM) that LinkedIn lists as active", what, d.version, detail))
	case r.status == http.StatusTooManyRequests:
		// LinkedIn sends no Retry-After as documented; when one comes it
		// is honoured, otherwise the back-off decides.
		wait, _ := retry.RetryAfterHeader(r.header, time.Now())
		return connectors.RetryAfter(wait, fmt.Errorf("%s: rate limited by LinkedIn (%s); its limits are per app and member, a minute and a day", what, detail))
	case r.status >= 500:
		return fmt.Errorf("%s: LinkedIn is failing (%s); will retry", what, detail)
	}
	return fmt.Errorf("%s: LinkedIn answered %s", what, detail)
}

// decode reads a successful answer's JSON into v.
func decode(r *response, what string, v any) error {
	if err := json.NewDecoder(bytes.NewReader(r.body)).Decode(v); err != nil {
		return fmt.Errorf("%s: LinkedIn answered HTTP %d with a body that is not the expected JSON: %w", what, r.status, err)
	}
	return nil
}

// accountURN names the ad account in bodies and queries.
func (d *Destination) accountURN() string { return "urn:li:sponsoredAccount:" + d.account }

// escape encodes a path segment or a query value (a URN's colons too,
// as Rest.li 2.0 wants them in a query).
func escape(v string) string { return url.QueryEscape(v) }
