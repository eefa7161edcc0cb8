package meta

import (
	"errors"
	"fmt"
	"strings"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
)

// Graph error codes and subcodes the connector acts on.
const (
	codeUnknown        = 1
	codeService        = 2
	codePermission     = 10
	codeInvalidParam   = 100
	codeSessionExpired = 102
	codeAccessToken    = 190
	codeDeprecated     = 2635

	subcodeNoSuchObject    = 33
	subcodeAudienceFlagged = 1713230
)

// classify puts an error from a Graph call into the engine's vocabulary.
// what says what was being done. invalid says what a request Graph refuses
// as malformed means where it happened: during uploads the batch is
// refused, while resolving the audience nothing can go on.
func (d *Destination) classify(what string, err error, invalid func(error) error) error {
	wrapped := fmt.Errorf("%s: %w", what, err)
	var ge *graphError
	if !errors.As(err, &ge) {
		// No answer after the client's retries: the engine retries later.
		return wrapped
	}
	account := "act_" + d.settings.AdAccount
	switch {
	case ge.Code == codeAccessToken || ge.Code == codeSessionExpired:
		return connectors.Reauthenticate(fmt.Errorf("%s: Meta refused the access token: %w; %s", what, err, auth.MetaRenewHint))
	case ge.Code == codeInvalidParam && strings.Contains(ge.Message, "appsecret_proof"):
		return connectors.Reauthenticate(fmt.Errorf("%s: Meta refused the appsecret_proof: %w; app_secret must be the secret of app %s, "+
			"the app the access token was issued for", what, err, d.creds.AppID))
	case ge.Code == codeInvalidParam && ge.Subcode == subcodeAudienceFlagged:
		return connectors.Fatal(fmt.Errorf("%s: Meta has flagged this audience for integrity restrictions and blocks changes to its members: %w; "+
			"resolve or appeal the restriction in Ads Manager → Audiences, or point the sync at a new audience", what, err))
	case throttled(ge.Code):
		wait := ge.regain
		if wait <= 0 {
			wait = d.tune.throttleWait
		}
		return connectors.RetryAfter(wait, fmt.Errorf("%s: Meta rate limit reached: %w", what, err))
	case ge.Transient || ge.Code == codeUnknown || ge.Code == codeService:
		return wrapped
	case ge.Code == codePermission || (ge.Code >= 200 && ge.Code <= 299):
		return connectors.Fatal(fmt.Errorf("%s: the access token may not do this: %w; in Business Manager give the system user "+
			"access to ad account %s (manage campaigns) and generate its token with ads_management", what, err, account))
	case ge.Code == codeDeprecated:
		return connectors.Fatal(fmt.Errorf("%s: %w; set api_version to a version Meta still serves (default %s)", what, err, DefaultAPIVersion))
	case ge.Code == codeInvalidParam && ge.Subcode == subcodeNoSuchObject:
		return connectors.Fatal(fmt.Errorf("%s: the object does not exist in ad account %s or this token cannot reach it: %w", what, account, err))
	case ge.Code == codeInvalidParam:
		return invalid(wrapped)
	}
	return wrapped
}

// rejectBatch is how a malformed upload is classified: Meta will refuse the
// same rows again, so the batch is recorded as failed and the run goes on.
func rejectBatch(err error) error { return connectors.RejectBatch("meta.invalid_request", err) }
