package x

import (
	"context"
	"fmt"
	"net/http"

	"github.com/audiencesync/audiencesync/connectors"
)

var _ connectors.Checker = (*Destination)(nil)

// Check verifies the credentials and access to the ad account by reading
// it (GET /12/accounts/{account_id}); it changes nothing.
func (d *Destination) Check(ctx context.Context) error {
	const what = "x: read ad account"
	r, err := d.call(ctx, http.MethodGet, "", nil, "", nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch r.status {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return connectors.Fatal(fmt.Errorf("%s: X has no ad account %s (%s): check account_id against X Ads Manager", what, d.account, r.describe(true)))
	}
	return d.statusError(r, what, true)
}
