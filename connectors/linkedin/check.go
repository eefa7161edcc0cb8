package linkedin

import (
	"context"
	"fmt"
	"net/http"

	"github.com/audiencesync/audiencesync/connectors"
)

var _ connectors.Checker = (*Destination)(nil)

// Check verifies the credentials and access to the ad account by reading
// it (GET /rest/adAccounts/{id}), which also fetches an access token; it
// changes nothing.
func (d *Destination) Check(ctx context.Context) error {
	const what = "linkedin: read ad account"
	r, err := d.call(ctx, request{method: http.MethodGet, path: "/adAccounts/" + escape(d.account)})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch r.status {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return connectors.Fatal(fmt.Errorf("%s: LinkedIn has no ad account %s (%s): check account_id against Campaign Manager", what, d.account, r.describe(true)))
	}
	return d.statusError(r, what, true)
}
