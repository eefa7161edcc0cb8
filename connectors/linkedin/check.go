package linkedin

import (
	"context"
	"net/http"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

var _ connectors.Checker = (*Destination)(nil)

// Check verifies the credentials and access to the ad account by reading
// it (GET /rest/adAccounts/{id}), which also fetches an access token; it
// changes nothing.
func (d *Destination) Check(ctx context.Context) error {
	r, err := d.call(ctx, request{method: http.MethodGet, path: "/adAccounts/" + escape(d.account)})
	return d.vocab.Check("linkedin: read ad account", r, err, platformhttp.Refusal{
		Says: "LinkedIn has no ad account " + d.account, Advice: "check account_id against Campaign Manager"})
}
