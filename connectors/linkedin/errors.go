package linkedin

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

// apiError is LinkedIn's error body.
type apiError struct {
	Status           int    `json:"status"`
	ServiceErrorCode int    `json:"serviceErrorCode"`
	Code             string `json:"code"`
	Message          string `json:"message"`
}

func apiErrorOf(r *platformhttp.Answer) apiError {
	var e apiError
	_ = json.Unmarshal(r.Body, &e) // a body of another shape has nothing to report
	return e
}

// describe summarises an error answer: status, code and service code,
// and the message when withMessages (never for the users endpoint, whose
// messages could quote a value sent).
func describe(r *platformhttp.Answer, withMessages bool) string {
	e := apiErrorOf(r)
	out := fmt.Sprintf("HTTP %d", r.Status)
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

// vocabulary is how LinkedIn's refusals read, for ad account account and
// LinkedIn-Version version. LinkedIn sends no Retry-After as documented;
// when one comes it is honoured, otherwise the back-off decides.
func vocabulary(account, version string) platformhttp.Vocabulary {
	return platformhttp.Vocabulary{
		Platform: "LinkedIn",
		Describe: describe,
		Unauthorized: platformhttp.Refusal{Says: "LinkedIn refused the access token",
			Advice: "run the developer app's OAuth flow again for a member with a role on the ad account and update refresh_token (or access_token)"},
		Fatal: []platformhttp.Refusal{
			{Status: http.StatusForbidden, Says: "LinkedIn refused access to ad account " + account,
				Advice: "the app needs the rw_dmp_segments permission (LinkedIn's Audiences program), and the member who authorised it a role other than VIEWER on the account"},
			{Status: http.StatusUpgradeRequired, Says: "LinkedIn no longer serves LinkedIn-Version " + version,
				Advice: "set api_version to a recent month (YYYYMM) that LinkedIn lists as active"},
		},
		RateLimitNote: "its limits are per app and member, a minute and a day",
	}
}
