package linkedin

import (
	"fmt"
	"net/http"

	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

// apiError is LinkedIn's error body.
type apiError struct {
	Status           int    `json:"status"`
	ServiceErrorCode int    `json:"serviceErrorCode"`
	Code             string `json:"code"`
	Message          string `json:"message"`
}

// Says is what an apiError tells: its message (which the users endpoint's
// can quote a value sent with) and its code and service code.
func (e apiError) Says() (string, []string) {
	var service string
	if e.ServiceErrorCode != 0 {
		service = fmt.Sprintf("(serviceErrorCode %d)", e.ServiceErrorCode)
	}
	return e.Message, []string{e.Code, service}
}

// describe summarises an error answer: status, code and service code,
// and the message when asked (never for the users endpoint).
var describe = platformhttp.Describe[apiError]

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
