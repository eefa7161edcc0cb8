package meta

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// tuning holds the retry and pacing constants; tests shorten them.
type tuning struct {
	// attempts, minWait and maxWait govern in-client retries.
	attempts         int
	minWait, maxWait time.Duration
	// maxInClientWait is the longest throttle wait the client sits out
	// itself; longer ones go back to the engine as RetryAfter.
	maxInClientWait time.Duration
	// throttleWait is the wait asked of the engine after a throttle that
	// names no time to regain access.
	throttleWait time.Duration
	// slowdown is the pause between requests at 100% usage; it shrinks
	// linearly to nothing at 75%.
	slowdown time.Duration
	timeout  time.Duration
	// rows is the most rows a request carries: MaxRows.
	rows int
}

func defaultTuning() tuning {
	return tuning{
		attempts: 5, minWait: time.Second, maxWait: time.Minute,
		maxInClientWait: 2 * time.Minute, throttleWait: time.Minute,
		slowdown: 10 * time.Second, timeout: 2 * time.Minute, rows: MaxRows,
	}
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
