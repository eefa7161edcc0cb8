package googleads

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// retryable reports whether Google answers status for a condition that
// passes: 429 (RESOURCE_EXHAUSTED), 500 (INTERNAL), 502, 503 (UNAVAILABLE)
// and 504 (DEADLINE_EXCEEDED).
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// checkRetry is the HTTP client's retry policy: connection failures and
// retryable statuses are retried; refused credentials are not.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		if errors.Is(err, auth.ErrGoogleCredentialsRejected) {
			return false, nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	return retryable(resp.StatusCode), nil
}

// retrySignal is the wait Google asks for: Retry-After, else the delay of a
// RetryInfo detail in the error body (RESOURCE_EXHAUSTED carries one).
func retrySignal(resp *http.Response, now time.Time) (time.Duration, bool) {
	if d, ok := retry.RetryAfter(resp, now); ok {
		return d, true
	}
	return peekRetryDelay(resp)
}

// peekRetryDelay reads the error body for a RetryInfo delay and puts the
// body back for whoever reads the response next.
func peekRetryDelay(resp *http.Response) (time.Duration, bool) {
	if resp == nil || resp.Body == nil {
		return 0, false
	}
	body, err := platformhttp.PeekBody(resp, 1<<16)
	if err != nil {
		return 0, false
	}
	e := parseError(http.StatusText(resp.StatusCode), resp.StatusCode, body)
	return e.RetryDelay, e.RetryDelay > 0
}
