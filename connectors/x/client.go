package x

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

// newClient builds the retrying client: rate-limit gate, then signing,
// then the wire, so a request is signed only once it may go out.
func newClient(conn *platformconn.Conn, lim limits, signer *auth.XSigner) *platformhttp.Client {
	wire := platformconn.Wire(conn.Concurrency + 2)
	return conn.HTTP(platformhttp.Options{
		Attempts:  lim.attempts,
		MinWait:   lim.minWait,
		MaxWait:   lim.maxWait,
		Signal:    retrySignal,
		Transport: newRateGate(signer.Transport(wire)),
		Wire:      wire,
	})
}

// baseURL returns the API base URL, starting the in-process sandbox on
// first use when the connection asks for it.
func (d *Destination) baseURL(ctx context.Context) (string, error) {
	d.baseMu.Lock()
	defer d.baseMu.Unlock()
	if d.base != "" {
		return d.base, nil
	}
	u, err := d.conn.BaseURL(ctx)
	if err != nil {
		return "", err
	}
	d.base = strings.TrimRight(u, "/")
	return d.base, nil
}

// maxResponseBytes bounds how much of an answer is read: the largest is
// an operation_errors list for 2,500 operations.
const maxResponseBytes = 8 << 20

// response is one final answer of the Ads API, retries done.
type response struct {
	status  int
	header  http.Header
	body    []byte
	retries int
}

// apiError is one entry of an Ads API errors or operation_errors list.
type apiError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Parameter string `json:"parameter"`
}

// errorBody is the error shape of every Ads API answer.
type errorBody struct {
	Errors          []apiError   `json:"errors"`
	OperationErrors [][]apiError `json:"operation_errors"`
}

func (r *response) errors() errorBody {
	var e errorBody
	_ = json.Unmarshal(r.body, &e) // a body that is not the error shape has no errors to report
	return e
}

// describe summarises the request-level errors: codes, and messages when
// withMessages (never for the users endpoint, whose messages could quote a
// value sent).
func (r *response) describe(withMessages bool) string {
	e := r.errors()
	if len(e.Errors) == 0 {
		return fmt.Sprintf("HTTP %d", r.status)
	}
	parts := make([]string, 0, len(e.Errors))
	for _, x := range e.Errors {
		p := x.Code
		if x.Parameter != "" {
			p += " (" + x.Parameter + ")"
		}
		if withMessages && x.Message != "" {
			p += ": " + auth.RedactText(x.Message)
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("HTTP %d %s", r.status, strings.Join(parts, "; "))
}

// call sends one request through the retrying client and reads the final
// answer, whatever its status. It fails only when no answer came.
func (d *Destination) call(ctx context.Context, method, path string, query url.Values, contentType string, body []byte) (*response, error) {
	base, err := d.baseURL(ctx)
	if err != nil {
		return nil, err
	}
	u := base + "/" + d.version + "/accounts/" + d.account + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	ctx, retries := platformhttp.WithRetryCount(ctx)
	var rb any
	if body != nil {
		rb = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u, rb)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := d.http.Do(req)
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: no answer from %s after retries: %w", method, redactPath(path), base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, redactPath(path), err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b, retries: *retries}, nil
}

// redactPath names an endpoint in messages without ids.
func redactPath(path string) string {
	switch {
	case strings.HasSuffix(path, "/users"):
		return "custom_audiences/{id}/users"
	case strings.HasPrefix(path, "/custom_audiences/"):
		return "custom_audiences/{id}"
	case path == "":
		return "accounts/{id}"
	}
	return strings.TrimPrefix(path, "/")
}

// statusError turns an answer that is not a success into the engine's
// error vocabulary. what says what was being done.
func (d *Destination) statusError(r *response, what string, withMessages bool) error {
	detail := r.describe(withMessages)
	switch {
	case r.status == http.StatusUnauthorized:
		return connectors.Reauthenticate(fmt.Errorf("%s: X refused the OAuth credentials (%s): regenerate the access token and secret in the X developer portal (the app's Keys and tokens page), update access_token and access_secret, and check that consumer_key and consumer_secret belong to the same app",
			what, detail))
	case r.status == http.StatusForbidden:
		return connectors.Fatal(fmt.Errorf("%s: X refused access to ad account %s (%s): give the user who owns the access token a role on the account in X Ads Manager (account administrator or ad manager), and check that the developer app is approved for the Ads API",
			what, d.account, detail))
	case r.status == http.StatusTooManyRequests:
		wait, _ := rateLimitWait(r.header, time.Now())
		return connectors.RetryAfter(wait, fmt.Errorf("%s: rate limited by X (%s)", what, detail))
	case r.status >= 500:
		return fmt.Errorf("%s: X is failing (%s); will retry", what, detail)
	}
	return fmt.Errorf("%s: X answered %s", what, detail)
}

// decode reads a successful answer's JSON into v.
func decode(r *response, what string, v any) error {
	if err := json.NewDecoder(bytes.NewReader(r.body)).Decode(v); err != nil {
		return fmt.Errorf("%s: X answered HTTP %d with a body that is not the expected JSON: %w", what, r.status, err)
	}
	return nil
}
