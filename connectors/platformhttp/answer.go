package platformhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// Answer is a platform's final answer to one request, retries done, its
// body read whole.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
	// Retries is how many times the request was sent again.
	Retries int
}

// Send sends req and reads the final answer, whatever its status, up to
// limit bytes (a larger answer is an error, as with ReadAnswer). It fails
// only when no answer came: with the context's error when the context
// ended, otherwise with an error that names the request's method and call
// (the endpoint as messages may show it, without ids) and platform.
func (c *Client) Send(req *retryablehttp.Request, limit int64, platform, call string) (*Answer, error) {
	ctx, retries := WithRetryCount(req.Context())
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		if resp != nil {
			_ = resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The transport's error quotes the URL, whose path may hold a
		// value derived from contact data (a subscriber hash).
		return nil, fmt.Errorf("%s %s: no answer from %s after retries: %w", req.Method, call, platform, auth.RedactError(err))
	}
	defer resp.Body.Close()
	body, err := ReadAnswer(resp, limit, platform)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, call, err)
	}
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: body, Retries: *retries}, nil
}

// Refusal is what one refusal by a platform means, for messages: what the
// platform did, in a phrase that names it ("X refused the OAuth
// credentials"), and what to do next.
type Refusal struct {
	Status int
	Says   string
	Advice string
}

func (r Refusal) err(what, detail string) error {
	return fmt.Errorf("%s: %s (%s): %s", what, r.Says, detail, r.Advice)
}

// Vocabulary turns a platform's answers that are not a success into the
// connectors' error vocabulary (connectors.Reauthenticate, Fatal,
// RetryAfter), each message saying what was being done, what the platform
// answered (Describe) and what to do next. A connector keeps one per
// connection and handles the statuses whose meaning depends on the call
// (a 404 for an audience, a 400 for a batch) before asking it.
type Vocabulary struct {
	// Platform names the platform in messages ("X").
	Platform string
	// Describe summarises an answer for messages: its status and the
	// platform's error codes, and its messages when withMessages (never
	// for answers to uploads, whose messages could quote a value sent).
	Describe func(a *Answer, withMessages bool) string
	// Unauthorized is a 401: the credentials were refused, and only new
	// ones will do (connectors.Reauthenticate).
	Unauthorized Refusal
	// Fatal are other refusals that no retry changes (a 403, a retired
	// API version), by Status (connectors.Fatal).
	Fatal []Refusal
	// Wait reads the wait a 429 asks for (default retry.RetryAfterHeader).
	Wait func(h http.Header, now time.Time) (time.Duration, bool)
	// RateLimitNote, when set, follows a rate limit's message after "; ",
	// to say which limit it is.
	RateLimitNote string
}

// Error maps a, the answer to what, onto the error vocabulary: 401 and
// the Fatal statuses refuse with their advice, 429 is a rate limit
// retried after the wait the platform asks for, 5xx a failure retried,
// and anything else an error with the platform's words.
func (v *Vocabulary) Error(a *Answer, what string, withMessages bool) error {
	detail := v.Describe(a, withMessages)
	if a.Status == http.StatusUnauthorized {
		return connectors.Reauthenticate(v.Unauthorized.err(what, detail))
	}
	for _, r := range v.Fatal {
		if r.Status == a.Status {
			return connectors.Fatal(r.err(what, detail))
		}
	}
	switch {
	case a.Status == http.StatusTooManyRequests:
		wait := v.Wait
		if wait == nil {
			wait = retry.RetryAfterHeader
		}
		d, _ := wait(a.Header, time.Now())
		note := ""
		if v.RateLimitNote != "" {
			note = "; " + v.RateLimitNote
		}
		return connectors.RetryAfter(d, fmt.Errorf("%s: rate limited by %s (%s)%s", what, v.Platform, detail, note))
	case a.Status >= 500:
		return fmt.Errorf("%s: %s is failing (%s); will retry", what, v.Platform, detail)
	}
	return fmt.Errorf("%s: %s answered %s", what, v.Platform, detail)
}

// Check is a connector's Check (connectors.Checker) from the answer a to
// reading the account its settings name, or the error err of that read:
// nil when the account was read, a fatal error saying missing for a 404,
// otherwise what Error says.
func (v *Vocabulary) Check(what string, a *Answer, err error, missing Refusal) error {
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case a.Status == http.StatusOK:
		return nil
	case a.Status == http.StatusNotFound:
		return connectors.Fatal(missing.err(what, v.Describe(a, true)))
	}
	return v.Error(a, what, true)
}

// Decode reads a successful answer's JSON into out.
func (v *Vocabulary) Decode(a *Answer, what string, out any) error {
	if err := json.NewDecoder(bytes.NewReader(a.Body)).Decode(out); err != nil {
		return fmt.Errorf("%s: %s answered HTTP %d with a body that is not the expected JSON: %w", what, v.Platform, a.Status, err)
	}
	return nil
}
