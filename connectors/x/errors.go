package x

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

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

// describe summarises the request-level errors: codes, and messages when
// withMessages (never for the users endpoint, whose messages could quote a
// value sent).
func describe(r *platformhttp.Answer, withMessages bool) string {
	e := platformhttp.ErrorBody[errorBody](r)
	if len(e.Errors) == 0 {
		return fmt.Sprintf("HTTP %d", r.Status)
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
	return fmt.Sprintf("HTTP %d %s", r.Status, strings.Join(parts, "; "))
}

// vocabulary is how X's refusals read, for ad account account.
func vocabulary(account string) platformhttp.Vocabulary {
	return platformhttp.Vocabulary{
		Platform: "X",
		Describe: describe,
		Unauthorized: platformhttp.Refusal{Says: "X refused the OAuth credentials",
			Advice: "regenerate the access token and secret in the X developer portal (the app's Keys and tokens page), update access_token and access_secret, and check that consumer_key and consumer_secret belong to the same app"},
		Fatal: []platformhttp.Refusal{{Status: http.StatusForbidden, Says: "X refused access to ad account " + account,
			Advice: "give the user who owns the access token a role on the account in X Ads Manager (account administrator or ad manager), and check that the developer app is approved for the Ads API"}},
		Wait: rateLimitWait,
	}
}
