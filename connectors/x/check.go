package x

import (
	"context"
	"net/http"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

var _ connectors.Checker = (*Destination)(nil)

// Check verifies the credentials and access to the ad account by reading
// it (GET /12/accounts/{account_id}); it changes nothing.
func (d *Destination) Check(ctx context.Context) error {
	r, err := d.call(ctx, http.MethodGet, "", nil, "", nil)
	return d.vocab.Check("x: read ad account", r, err, platformhttp.Refusal{
		Says: "X has no ad account " + d.account, Advice: "check account_id against X Ads Manager"})
}
