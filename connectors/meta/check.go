package meta

import (
	"context"
	"errors"
	"fmt"

	fb "github.com/huandu/facebook/v2"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
)

// Ad account statuses that can run uploads: ACTIVE and IN_GRACE_PERIOD.
const (
	accountActive      = 1
	accountGracePeriod = 9
)

var _ connectors.Checker = (*Destination)(nil)

// Check verifies, without changing anything, that the token works with
// appsecret_proof and reaches the ad account, that it was issued for
// app_id with ads_management, and that it does not expire soon. A token
// expiring within auth.MetaExpiryWarning is logged and returned as an
// error wrapping auth.ErrMetaTokenExpiring, so `audiencesync check` shows
// it while it still works.
func (d *Destination) Check(ctx context.Context) error {
	g, err := d.graph(ctx)
	if err != nil {
		return err
	}
	account := "act_" + d.settings.AdAccount
	res, _, err := g.call(ctx, fb.GET, account, fb.Params{"fields": "id,name,account_status"})
	if err != nil {
		return d.classify("read ad account "+account, err, func(err error) error {
			return connectors.Fatal(fmt.Errorf("%w; check ad_account, and that the system user was given access to it in Business Manager", err))
		})
	}
	if st := number(res["account_status"]); st != accountActive && st != accountGracePeriod {
		return connectors.Fatal(fmt.Errorf("ad account %s is not active (account_status %d): settle or reactivate it in Ads Manager", account, st))
	}

	tok, err := d.creds.InspectToken(ctx, g.where)
	if err != nil {
		var fe *fb.Error
		if errors.As(err, &fe) && fe.Code == codeAccessToken {
			return connectors.Reauthenticate(fmt.Errorf("%w; Meta refused the app access token built from app_id and app_secret: check both", err))
		}
		return err
	}
	if err := tok.Verify(d.conn.Now(), d.creds.AppID); err != nil {
		if errors.Is(err, auth.ErrMetaTokenExpiring) {
			d.log.Warn("the Meta access token expires soon", zap.Time("expires_at", tok.ExpiresAt),
				zap.Time("data_access_expires_at", tok.DataAccessExpiresAt))
			return err
		}
		return connectors.Reauthenticate(err)
	}
	return nil
}
