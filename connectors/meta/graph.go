package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	fb "github.com/huandu/facebook/v2"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// graph is a destination's Graph API client.
type graph struct {
	session *fb.Session // shared; each call takes a copy with its context
	where   auth.MetaGraph
	http    *platformhttp.Client
	tune    tuning
}

// call makes one Graph call, retries included, and says how many retries
// it took. A Graph error comes back as *graphError.
func (g *graph) call(ctx context.Context, method fb.Method, path string, params fb.Params) (fb.Result, int, error) {
	ctx, retries := platformhttp.WithRetryCount(ctx)
	res, err := g.session.WithContext(ctx).Api(path, method, params)
	if err != nil {
		// A transport error quotes the URL, which carries appsecret_proof
		// on every GET.
		return res, *retries, auth.RedactError(asGraphError(res, err))
	}
	return res, *retries, nil
}

// graphError is an error Graph answered with.
type graphError struct {
	Code, Subcode int
	Type          string
	// Message, UserTitle and UserMessage are Meta's words, scrubbed of
	// anything shaped like a hash or an e-mail address.
	Message, UserTitle, UserMessage string
	TraceID                         string
	Transient                       bool
	// regain is how long X-Business-Use-Case-Usage said to stay away.
	regain time.Duration
}

func (e *graphError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Meta Graph API error %d", e.Code)
	if e.Subcode != 0 {
		fmt.Fprintf(&b, "/%d", e.Subcode)
	}
	if e.Type != "" {
		fmt.Fprintf(&b, " (%s)", e.Type)
	}
	fmt.Fprintf(&b, ": %s", e.Message)
	if e.UserTitle != "" || e.UserMessage != "" {
		fmt.Fprintf(&b, " [%s: %s]", e.UserTitle, e.UserMessage)
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, " (fbtrace_id %s)", e.TraceID)
	}
	return b.String()
}

// throttled reports whether code is one of Meta's rate-limit codes.
func throttled(code int) bool {
	switch {
	case code == 4, code == 17, code == 32, code == 613:
		return true
	case code >= 80000 && code <= 80014:
		return true
	}
	return false
}

func asGraphError(res fb.Result, err error) error {
	var fe *fb.Error
	if errors.As(err, &fe) {
		ge := &graphError{
			Code: fe.Code, Subcode: fe.ErrorSubcode, Type: fe.Type, TraceID: fe.TraceID, Transient: fe.IsTransient,
			Message: scrub(fe.Message), UserTitle: scrub(fe.UserTitle), UserMessage: scrub(fe.UserMessage),
		}
		if u := res.UsageInfo(); u != nil {
			_, ge.regain = usageLevel(u.BusinessUseCase)
		}
		return ge
	}
	var ue *fb.UnmarshalError
	if errors.As(err, &ue) {
		// The payload is not quoted: it is whatever a proxy or server sent.
		return fmt.Errorf("the answer from Meta is not Graph API JSON: %s", ue.Message)
	}
	return err
}

var (
	hexRun  = regexp.MustCompile(`[0-9a-fA-F]{32,}`)
	address = regexp.MustCompile(`[^\s@'"(),;<>]+@[^\s@'"(),;<>]+`)
)

// scrub keeps contact data out of a message Meta wrote: Graph messages
// rarely quote a value sent, but where one would be, it is redacted.
func scrub(s string) string {
	s = auth.RedactText(s)
	s = hexRun.ReplaceAllString(s, "[value]")
	s = address.ReplaceAllString(s, "[value]")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

// checkRetry extends retryablehttp's policy (connection errors, 429, 5xx)
// to Meta's throttling and transient errors, which mostly arrive on HTTP
// 400 and can only be told apart by the body. A throttle whose time to
// regain access is longer than maxInClient is left to the caller, which
// hands the wait to the engine. An expired token is never retried.
func checkRetry(maxInClient time.Duration) retryablehttp.CheckRetry {
	return func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if err == nil {
			if _, regain := usageOf(resp.Header); regain > maxInClient {
				return false, nil
			}
		}
		if err != nil || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
		}
		if resp.StatusCode < 400 {
			return false, nil
		}
		e, ok := peekError(resp)
		if !ok || e.Code == 190 {
			return false, nil
		}
		return throttled(e.Code) || e.IsTransient, nil
	}
}

// wireError is the part of Graph's error body the retry policy reads.
type wireError struct {
	Code        int  `json:"code"`
	IsTransient bool `json:"is_transient"`
}

// peekError reads Graph's error from resp and puts the body back for the
// caller.
func peekError(resp *http.Response) (wireError, bool) {
	if resp.Body == nil {
		return wireError{}, false
	}
	body, err := platformhttp.PeekBody(resp, 1<<20)
	if err != nil {
		return wireError{}, false
	}
	var w struct {
		Error *wireError `json:"error"`
	}
	if json.Unmarshal(body, &w) != nil || w.Error == nil {
		return wireError{}, false
	}
	return *w.Error, true
}

// retrySignal is the wait Meta asks for: the time to regain access that
// X-Business-Use-Case-Usage names, else Retry-After.
func retrySignal(resp *http.Response, now time.Time) (time.Duration, bool) {
	if _, regain := usageOf(resp.Header); regain > 0 {
		return regain, true
	}
	return retry.RetryAfter(resp, now)
}
