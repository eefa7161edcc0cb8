// Package meta is the destination for Meta Custom Audiences (customer-file
// audiences) through the Graph API, built on github.com/huandu/facebook/v2.
//
// Ensure finds an audience by id or by name in the ad account and creates
// it when allowed. Apply sends a batch as one multi-key upload (POST
// /{id}/users to add, DELETE /{id}/users to remove); a full refresh goes
// through /{id}/usersreplace in one session (Replacer). The per-request
// counts Meta answers with (num_received, num_invalid_entries, the reasons
// of the invalid-entry samples) go into each BatchResult and, summed, into
// the run report (FeedbackPoller). Check inspects the access token and the
// ad account.
//
// The access token travels in the Authorization header only, never in a
// URL or a log line, and every call carries appsecret_proof. Requests go
// through platformhttp's retrying client; Meta's throttling (codes 4, 17,
// 32, 613, 80000–80014, often on HTTP 400) is retried too, waiting what
// X-Business-Use-Case-Usage says, and the client slows down on its own when
// that header reports usage above 75%.
package meta

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
)

// Type is the connection type.
const Type = "meta"

// MaxRows is the most rows Meta takes in one users request.
const MaxRows = 10000

const defaultBaseURL = "https://graph.facebook.com/"

// Compile-time interface guard; each optional capability's guard stands
// above the method that provides it.
var _ connectors.Destination = (*Destination)(nil)

// Spec declares the connector.
func Spec() connectors.Spec {
	return connectors.DestinationSpec(Type,
		"Meta Custom Audiences (customer file) through the Graph API",
		sample, New)
}

const sample = `# A Meta ad account's customer-file Custom Audiences.
meta_ads:
  type: meta
  # The ad account that owns the audiences (act_ prefix optional).
  ad_account: act_1234567890
  # The app the access token was issued for; every call is signed with
  # appsecret_proof derived from its secret.
  app_id: "1234"
  app_secret: ${env:META_APP_SECRET}
  # A system user token from Business Manager with ads_management.
  access_token: ${env:META_ACCESS_TOKEN}
  # Graph API version (default v25.0).
  api_version: v25.0
  # How the customer data was collected: USER_PROVIDED_ONLY (default),
  # PARTNER_PROVIDED_ONLY or BOTH_USER_AND_PARTNER_PROVIDED.
  customer_file_source: USER_PROVIDED_ONLY
  # sandbox: true talks to the local replica (credentials may be left out);
  # endpoint: overrides the API base URL.
  sandbox: false
  # Uploads in flight at once (default 2), and an optional request rate cap.
  concurrency: 2
  requests_per_second: 0
`

// Destination uploads to one ad account's customer-file audiences.
type Destination struct {
	settings Settings
	creds    auth.MetaCredentials
	conn     platformconn.Conn
	log      *zap.Logger
	tune     tuning

	initMu sync.Mutex
	api    *graph // built on first use: the sandbox URL needs a context

	mu       sync.Mutex
	feedback map[string]map[string]int64 // request id → counts, this run
	replaces map[string]*replaceProgress // audience id → replace session in progress
	// batchCap is the sync's batch_size (LimitBatch): the most members a
	// replace request carries; 0 for no cap below the row limit.
	batchCap int
}

var _ connectors.BatchLimiter = (*Destination)(nil)

// LimitBatch caps the members of each usersreplace request at the sync's
// batch_size (Apply's batches are cut by the engine already); Meta's
// MaxRows rows a request still apply.
func (d *Destination) LimitBatch(members int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.batchCap = max(members, 0)
}

// replaceBatch is the most members one replace request carries.
func (d *Destination) replaceBatch() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.batchCap > 0 && d.batchCap < d.tune.rows {
		return d.batchCap
	}
	return d.tune.rows
}

// New builds a destination from validated settings with resolved secrets.
func New(s *Settings, env connectors.Env) (*Destination, error) {
	conn, err := platformconn.New(s.Settings, limits, env, s.Validate)
	if err != nil {
		return nil, err
	}
	set := *s
	set.Settings = conn.Settings
	set.applyDefaults()
	creds := auth.MetaCredentials{AppID: set.AppID, AppSecret: set.AppSecret, AccessToken: set.AccessToken}
	if set.Sandbox && !set.hasCredentials() {
		creds = auth.MetaCredentials{AppID: metaplatform.ReplicaAppID, AppSecret: auth.NewSecret(metaplatform.ReplicaAppSecret),
			AccessToken: auth.NewSecret(metaplatform.ReplicaToken)}
	}
	for name, sec := range map[string]auth.Secret{"app_secret": creds.AppSecret, "access_token": creds.AccessToken} {
		if sec.Reveal() == "" {
			return nil, fmt.Errorf("meta: %s %s resolved to nothing: set it (secrets are resolved before the connector starts)", name, sec.Ref())
		}
	}
	return &Destination{
		settings: set, creds: creds, conn: conn, log: conn.Log, tune: defaultTuning(),
		feedback: map[string]map[string]int64{}, replaces: map[string]*replaceProgress{},
	}, nil
}

// Info describes the destination to the engine.
func (d *Destination) Info() connectors.DestinationInfo {
	return connectors.DestinationInfo{
		Platform:    metaplatform.Platform(),
		Kinds:       metaplatform.Platform().Kinds(),
		MaxBatch:    d.tune.rows,
		Concurrency: d.settings.Concurrency,
		// Customer-file memberships do not lapse: nothing needs refreshing.
		RefreshWindow: 0,
	}
}

// Close releases idle connections. It may be called more than once.
func (d *Destination) Close() error {
	d.initMu.Lock()
	defer d.initMu.Unlock()
	if d.api != nil {
		d.api.http.CloseIdleConnections()
	}
	return nil
}

var _ connectors.RunObserver = (*Destination)(nil)

// BeginRun starts a run's bookkeeping: feedback counts and replace
// progress belong to one run.
func (d *Destination) BeginRun(context.Context, connectors.RunInfo) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.feedback)
	clear(d.replaces)
	return nil
}

// EndRun has nothing to finish: every request was answered when it returned.
func (d *Destination) EndRun(context.Context, connectors.RunInfo, bool) error { return nil }
