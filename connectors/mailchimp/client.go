package mailchimp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// maxResponseBytes bounds an answer: the largest is a batch's.
const maxResponseBytes = 8 << 20

// baseURL is the API's base: the data centre's host, or the endpoint (a
// sandbox, a proxy), with /3.0.
func (d *Destination) baseURL(ctx context.Context) (string, error) {
	if !d.conn.Sandbox && d.conn.Endpoint == "" {
		return "https://" + d.dc + ".api.mailchimp.com/3.0", nil
	}
	u, err := d.conn.BaseURL(ctx)
	return strings.TrimRight(u, "/") + "/3.0", err
}

// response is one final answer, retries done.
type response struct {
	status  int
	header  http.Header
	body    []byte
	retries int
}

// problem is Mailchimp's error body (application/problem+json).
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// describe summarises an error answer: its status and title, and its
// detail when withDetail (never for member calls, whose details quote
// the address).
func (r *response) describe(withDetail bool) string {
	var p problem
	_ = json.Unmarshal(r.body, &p) // another shape has nothing to add
	out := fmt.Sprintf("HTTP %d", r.status)
	if p.Title != "" {
		out += " " + p.Title
	}
	if withDetail && p.Detail != "" {
		out += ": " + auth.RedactText(p.Detail)
	}
	return out
}

// call sends one request with the API key and reads the final answer,
// whatever its status; it fails only when no answer came. name is the
// call as messages show it, without ids.
func (d *Destination) call(ctx context.Context, method, path, name string, in any) (*response, error) {
	base, err := d.baseURL(ctx)
	if err != nil {
		return nil, err
	}
	ctx, retries := platformhttp.WithRetryCount(ctx)
	req, err := platformhttp.NewJSONRequest(ctx, method, base+path, in)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, name, err)
	}
	req.SetBasicAuth("audiencesync", d.key)
	resp, err := d.http.Do(req)
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: no answer from Mailchimp after retries: %w", method, name, auth.RedactError(err))
	}
	defer resp.Body.Close()
	b, err := platformhttp.ReadAnswer(resp, maxResponseBytes, "Mailchimp")
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, name, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b, retries: *retries}, nil
}

// statusError turns an answer that is not a success into the engine's
// error vocabulary. what says what was being done.
func statusError(r *response, what string, withDetail bool) error {
	detail := r.describe(withDetail)
	switch {
	case r.status == http.StatusUnauthorized:
		return connectors.Reauthenticate(fmt.Errorf("%s: Mailchimp refused the API key (%s): check api_key (the whole key, with its -usNN data centre) under Account > Extras > API keys", what, detail))
	case r.status == http.StatusForbidden:
		return connectors.Fatal(fmt.Errorf("%s: Mailchimp refused access (%s): the key's user needs access to the list", what, detail))
	case r.status == http.StatusTooManyRequests:
		wait, _ := retry.RetryAfterHeader(r.header, time.Now())
		return connectors.RetryAfter(wait, fmt.Errorf("%s: Mailchimp is limiting requests (%s): at most 10 connections at once; lower concurrency if this persists", what, detail))
	case r.status >= 500:
		return fmt.Errorf("%s: Mailchimp is failing (%s); will retry", what, detail)
	}
	return fmt.Errorf("%s: Mailchimp answered %s", what, detail)
}

// decode reads a successful answer's JSON into v.
func decode(r *response, what string, v any) error {
	if err := json.NewDecoder(bytes.NewReader(r.body)).Decode(v); err != nil {
		return fmt.Errorf("%s: Mailchimp answered HTTP %d with a body that is not the expected JSON: %w", what, r.status, err)
	}
	return nil
}
