package googleads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// APIError is an error answer of the Data Manager API, reduced to what is
// safe to show: the status, Google's reason, the fields at fault and the
// message with quoted values removed (Google quotes what it refused, which
// may be contact data).
type APIError struct {
	Op         string
	HTTPStatus int
	Status     string   // INVALID_ARGUMENT, PERMISSION_DENIED…
	Reason     string   // ErrorInfo reason, e.g. TERMS_OF_SERVICE_NOT_ACCEPTED
	Fields     []string // BadRequest field violations
	Message    string
	RetryDelay time.Duration // RetryInfo or Retry-After
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "google_ads: %s: HTTP %d", e.Op, e.HTTPStatus)
	if e.Status != "" {
		b.WriteString(" " + e.Status)
	}
	if e.Reason != "" && e.Reason != e.Status {
		b.WriteString(" (" + e.Reason + ")")
	}
	if len(e.Fields) > 0 {
		b.WriteString(" at " + strings.Join(e.Fields, ", "))
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// key is the reason a report counts the failure under.
func (e *APIError) key() string {
	switch {
	case e.Reason != "":
		return e.Reason
	case e.Status != "":
		return e.Status
	}
	return "HTTP_" + strconv.Itoa(e.HTTPStatus)
}

// errorBody is Google's JSON error shape.
type errorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			Reason          string `json:"reason"`
			RetryDelay      string `json:"retryDelay"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

// quoted matches a double-quoted value in a message.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

func parseError(op string, status int, body []byte) *APIError {
	e := &APIError{Op: op, HTTPStatus: status}
	var b errorBody
	if json.Unmarshal(body, &b) != nil {
		return e
	}
	e.Status = b.Error.Status
	e.Message = auth.RedactText(quoted.ReplaceAllString(b.Error.Message, `"…"`))
	for _, d := range b.Error.Details {
		switch {
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo"):
			e.Reason = d.Reason
		case strings.HasSuffix(d.Type, "google.rpc.RetryInfo"):
			if v, ok := strings.CutSuffix(d.RetryDelay, "s"); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
					e.RetryDelay = time.Duration(f * float64(time.Second))
				}
			}
		case strings.HasSuffix(d.Type, "google.rpc.BadRequest"):
			for _, v := range d.FieldViolations {
				e.Fields = append(e.Fields, v.Field)
			}
		}
	}
	return e
}

// asAPIError extracts Google's error answer from err, if it is one.
func asAPIError(op string, err error) (*APIError, bool) {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return nil, false
	}
	e := parseError(op, ge.Code, []byte(ge.Body))
	if e.RetryDelay == 0 {
		if d, ok := retry.RetryAfterHeader(ge.Header, time.Now()); ok {
			e.RetryDelay = d
		}
	}
	return e, true
}

func isUnauthenticated(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusUnauthorized
}

// classify turns a failed call into the engine's vocabulary (see
// connectors/errors.go), with a message that says what to do.
func (d *Destination) classify(ctx context.Context, op, method string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("google_ads: %s: %w", op, ctx.Err())
	}
	if errors.Is(err, auth.ErrGoogleCredentialsRejected) {
		return connectors.Reauthenticate(fmt.Errorf("google_ads: %s: %w", op, err))
	}
	e, ok := asAPIError(op, err)
	if !ok {
		// A transport failure that outlasted the client's retries; the
		// engine retries the batch with its own back-off.
		return fmt.Errorf("google_ads: %s: %w", op, err)
	}
	switch {
	case e.HTTPStatus == http.StatusUnauthorized:
		return connectors.Reauthenticate(fmt.Errorf("%w: %s", e, reauthAdvice(method)))
	case retryable(e.HTTPStatus) || e.Status == "RESOURCE_EXHAUSTED" || e.Status == "UNAVAILABLE" || e.Status == "DEADLINE_EXCEEDED":
		return connectors.RetryAfter(e.RetryDelay, e)
	case e.Reason == "TERMS_OF_SERVICE_NOT_ACCEPTED":
		return connectors.Fatal(fmt.Errorf("%w: %s", e, termsAdvice))
	case e.HTTPStatus == http.StatusForbidden:
		// Permission is the account's, not the batch's: every further
		// batch would be refused the same way.
		return connectors.Fatal(fmt.Errorf("%w: check that the credentials can reach account %s (set login_account when access goes through a manager account)", e, d.account))
	case e.Reason == "CONSENT_REQUIRED":
		return connectors.RejectBatch(e.key(), fmt.Errorf("%w: set consent on the sync destination (ad_user_data, ad_personalization) or map per-member consent columns", e))
	}
	return connectors.RejectBatch(e.key(), e)
}

const termsAdvice = "accept the Customer Match terms of service for this account in Google Ads (Tools > Shared library > Audience manager), then set terms_of_service_accepted: true on the connection"

func reauthAdvice(method string) string {
	switch method {
	case auth.GoogleMethodAccessToken:
		return "the access_token was refused (expired or revoked): get a fresh one (gcloud auth print-access-token), or configure credentials or a refresh_token, which renew themselves"
	case auth.GoogleMethodRefreshToken:
		return "a freshly refreshed token was refused too: check that the Google account still has access and the OAuth client has the datamanager scope; run `audiencesync auth google` for a new refresh token"
	}
	return "a freshly issued token was refused too: check that the service account has access to the Google Ads account and the Data Manager API is enabled in its project"
}
