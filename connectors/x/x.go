// Package x is the X (Twitter) Ads destination: it keeps an X custom
// audience in step through the Ads API v12 users endpoint.
//
// Every request is signed with OAuth 1.0a (user context, HMAC-SHA1) by
// auth.XSigner inside the retrying client's transport, so each attempt —
// the first and every retry — carries a fresh nonce and timestamp; X
// refuses a replayed nonce.
//
// A batch becomes one operation per member (Update for adds, updates and
// refreshes, Delete for removals), so X's operation_errors, which are
// indexed like the request, name members exactly. A request holds at most
// 2,500 operations and 5,000,000 bytes; a batch whose members carry so
// many identifiers that it would exceed the bytes is sent as several
// requests, each all or nothing.
package x

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
)

// Limits of the users endpoint.
const (
	// MaxOperations is the most operation objects one request may hold.
	MaxOperations = 2500
	// MaxBodyBytes is the largest request body X accepts.
	MaxBodyBytes = 5_000_000
)

// limits are the request limits and retry pacing; tests lower them.
type limits struct {
	maxOps   int
	maxBytes int
	attempts int
	minWait  time.Duration
	maxWait  time.Duration
}

func defaultLimits() limits {
	return limits{maxOps: MaxOperations, maxBytes: MaxBodyBytes, attempts: 5, minWait: time.Second, maxWait: time.Minute}
}

// Destination uploads to the custom audiences of one X ad account.
type Destination struct {
	account     string
	version     string
	concurrency int
	lim         limits
	log         *zap.Logger
	now         func() time.Time
	http        *platformhttp.Client

	// base is the API base URL; with sandbox: true and no endpoint it is
	// found on first use through Env.Endpoint.
	baseMu sync.Mutex
	base   string
	conn   platformconn.Conn

	mu sync.Mutex
	// membership is how many days memberships last, per audience Ensure
	// resolved (0: X's default).
	membership map[string]int
	closed     bool
}

var (
	_ connectors.Destination   = (*Destination)(nil)
	_ connectors.Checker       = (*Destination)(nil)
	_ connectors.AudienceSizer = (*Destination)(nil)
)

// New builds an X destination from validated settings whose secrets are
// resolved. It makes no network call.
func New(s *Settings, env connectors.Env) (*Destination, error) {
	return newDestination(s, env, defaultLimits())
}

func newDestination(s *Settings, env connectors.Env, lim limits) (*Destination, error) {
	conn, err := platformconn.New(s.Settings, connLimits, env, s.Validate)
	if err != nil {
		return nil, err
	}
	d := &Destination{
		account:     s.AccountID,
		version:     s.APIVersion,
		concurrency: conn.Concurrency,
		lim:         lim,
		log:         conn.Log,
		now:         conn.Now,
		conn:        conn,
		membership:  map[string]int{},
	}
	if u, ok := conn.StaticURL(); ok {
		d.base = strings.TrimRight(u, "/")
	}
	if d.version == "" {
		d.version = DefaultAPIVersion
	}
	creds := auth.XCredentials{
		ConsumerKey: s.ConsumerKey, ConsumerSecret: s.ConsumerSecret,
		AccessToken: s.AccessToken, AccessSecret: s.AccessSecret,
	}
	if s.Sandbox {
		if len(s.missingCredentials()) == 4 {
			creds = auth.XCredentials{
				ConsumerKey: auth.NewSecret(xplatform.ReplicaConsumerKey), ConsumerSecret: auth.NewSecret(xplatform.ReplicaConsumerSecret),
				AccessToken: auth.NewSecret(xplatform.ReplicaAccessToken), AccessSecret: auth.NewSecret(xplatform.ReplicaAccessSecret),
			}
		}
		if d.account == "" {
			d.account = xplatform.ReplicaAccount
		}
	}
	signer, err := auth.NewXSigner(creds)
	if err != nil {
		return nil, fmt.Errorf("x: %w", err)
	}
	d.http = newClient(s, d.concurrency, lim, signer, d.log)
	return d, nil
}

// newClient builds the retrying client: rate-limit gate, then signing,
// then the wire, so a request is signed only once it may go out.
func newClient(s *Settings, concurrency int, lim limits, signer *auth.XSigner, log *zap.Logger) *platformhttp.Client {
	wire := http.DefaultTransport.(*http.Transport).Clone()
	wire.MaxIdleConnsPerHost = concurrency + 2
	return platformhttp.New(platformhttp.Options{
		Logger:            log,
		Attempts:          lim.attempts,
		MinWait:           lim.minWait,
		MaxWait:           lim.maxWait,
		RequestsPerSecond: s.RequestsPerSecond,
		Burst:             concurrency,
		Signal:            retrySignal,
		Transport:         newRateGate(signer.Transport(wire)),
	})
}

// baseURL returns the API base URL, starting the in-process sandbox on
// first use when the connection asks for it.
func (d *Destination) baseURL(ctx context.Context) (string, error) {
	d.baseMu.Lock()
	defer d.baseMu.Unlock()
	if d.base != "" {
		return d.base, nil
	}
	u, err := d.conn.BaseURL(ctx)
	if err != nil {
		return "", err
	}
	d.base = strings.TrimRight(u, "/")
	return d.base, nil
}

// Info describes the destination to the engine. Memberships do not lapse
// unless the sync sets membership_days, so nothing needs refreshing.
func (d *Destination) Info() connectors.DestinationInfo {
	return connectors.DestinationInfo{
		Platform:    xplatform.Platform(),
		Kinds:       xplatform.Platform().Kinds(),
		MaxBatch:    d.lim.maxOps,
		Concurrency: d.concurrency,
	}
}

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

// customAudience is the part of an Ads API custom audience object used here.
type customAudience struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Deleted bool   `json:"deleted"`
	// Size is X's approximate audience_size; null (nil) below 100
	// matched users.
	Size *int64 `json:"audience_size"`
}

// AudienceSize reads the audience's audience_size. X gives an
// approximate figure once 100 users matched and null before, which leaves
// the size unknown.
func (d *Destination) AudienceSize(ctx context.Context, aud connectors.Audience) (connectors.AudienceSize, error) {
	a, found, err := d.audienceByID(ctx, aud.ID)
	if err != nil {
		return connectors.AudienceSize{}, err
	}
	if !found {
		return connectors.AudienceSize{}, connectors.Fatal(fmt.Errorf("x: custom audience %s is gone from ad account %s", aud.ID, d.account))
	}
	if a.Size == nil {
		return connectors.AudienceSize{}, nil
	}
	return connectors.AudienceSize{Known: true, Members: *a.Size, Approximate: true}, nil
}

// Ensure finds the custom audience by id (spec.ID, then the id recorded
// last run), then by name, and creates it when spec.Create allows.
func (d *Destination) Ensure(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	aud, err := d.ensure(ctx, spec)
	if err != nil {
		return connectors.Audience{}, err
	}
	d.mu.Lock()
	d.membership[aud.ID] = spec.MembershipDays
	d.mu.Unlock()
	return aud, nil
}

func (d *Destination) ensure(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	for _, id := range []string{spec.ID, spec.KnownID} {
		if id == "" {
			continue
		}
		a, found, err := d.audienceByID(ctx, id)
		if err != nil {
			return connectors.Audience{}, err
		}
		if found {
			return connectors.Audience{ID: a.ID, Name: a.Name}, nil
		}
		if id == spec.ID {
			return connectors.Audience{}, connectors.Fatal(fmt.Errorf("x: custom audience %s does not exist in ad account %s (or was deleted): fix the audience id in the sync, or remove it to find the audience by name", id, d.account))
		}
		// The audience recorded last run is gone: find it by name.
	}
	if spec.Name == "" {
		return connectors.Audience{}, connectors.Fatal(errors.New("x: the audience has neither an id nor a name: give the sync's audience a name or an id"))
	}
	a, found, err := d.audienceByName(ctx, spec.Name)
	if err != nil || found {
		return connectors.Audience{ID: a.ID, Name: a.Name}, err
	}
	if !spec.Create {
		return connectors.Audience{}, connectors.Fatal(fmt.Errorf("x: ad account %s has no custom audience named %q: create it in X Ads Manager, give its id in the sync, or allow audiencesync to create it", d.account, spec.Name))
	}
	return d.createAudience(ctx, spec)
}

// audienceByID reads one custom audience; found is false when X does not
// know it or it was deleted.
func (d *Destination) audienceByID(ctx context.Context, id string) (customAudience, bool, error) {
	what := "x: read custom audience " + id
	r, err := d.call(ctx, http.MethodGet, "/custom_audiences/"+url.PathEscape(id), nil, "", nil)
	if err != nil {
		return customAudience{}, false, fmt.Errorf("%s: %w", what, err)
	}
	switch r.status {
	case http.StatusOK:
		var body struct {
			Data customAudience `json:"data"`
		}
		if err := decode(r, what, &body); err != nil {
			return customAudience{}, false, err
		}
		return body.Data, body.Data.ID != "" && !body.Data.Deleted, nil
	case http.StatusNotFound:
		return customAudience{}, false, nil
	}
	return customAudience{}, false, d.statusError(r, what, true)
}

// maxListPages bounds paging through an account's custom audiences (at
// 1,000 a page) in case a cursor never ends.
const maxListPages = 1000

// audienceByName pages through the account's custom audiences for one
// named name. Two live audiences of that name are an error: X allows it,
// but which one to sync is the user's call.
func (d *Destination) audienceByName(ctx context.Context, name string) (customAudience, bool, error) {
	const what = "x: list custom audiences"
	var match []customAudience
	cursor := ""
	for range maxListPages {
		q := url.Values{"count": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r, err := d.call(ctx, http.MethodGet, "/custom_audiences", q, "", nil)
		if err != nil {
			return customAudience{}, false, fmt.Errorf("%s: %w", what, err)
		}
		if r.status != http.StatusOK {
			return customAudience{}, false, d.statusError(r, what, true)
		}
		var page struct {
			Data       []customAudience `json:"data"`
			NextCursor *string          `json:"next_cursor"`
		}
		if err := decode(r, what, &page); err != nil {
			return customAudience{}, false, err
		}
		for _, a := range page.Data {
			if a.Name == name && !a.Deleted {
				match = append(match, a)
			}
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			break
		}
		cursor = *page.NextCursor
	}
	switch len(match) {
	case 0:
		return customAudience{}, false, nil
	case 1:
		return match[0], true, nil
	}
	ids := make([]string, len(match))
	for i, a := range match {
		ids[i] = a.ID
	}
	return customAudience{}, false, connectors.Fatal(fmt.Errorf("x: ad account %s has %d custom audiences named %q (%s): give the sync's audience the id of the one to keep in step",
		d.account, len(match), name, strings.Join(ids, ", ")))
}

// createAudience creates a custom audience. Parameters go as a form body,
// which the OAuth signature covers.
func (d *Destination) createAudience(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	what := fmt.Sprintf("x: create custom audience %q", spec.Name)
	form := url.Values{"name": {spec.Name}}
	if spec.Description != "" {
		form.Set("description", spec.Description)
	}
	r, err := d.call(ctx, http.MethodPost, "/custom_audiences", nil, "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return connectors.Audience{}, fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case r.status == http.StatusOK || r.status == http.StatusCreated:
	case r.status == http.StatusBadRequest:
		return connectors.Audience{}, connectors.Fatal(fmt.Errorf("%s: X refused it (%s): fix the audience name or description in the sync", what, r.describe(true)))
	default:
		return connectors.Audience{}, d.statusError(r, what, true)
	}
	var body struct {
		Data customAudience `json:"data"`
	}
	if err := decode(r, what, &body); err != nil {
		return connectors.Audience{}, err
	}
	if body.Data.ID == "" {
		return connectors.Audience{}, fmt.Errorf("%s: X answered without an audience id", what)
	}
	d.log.Info("created custom audience", zap.String("audience_id", body.Data.ID))
	return connectors.Audience{ID: body.Data.ID, Name: body.Data.Name, Created: true}, nil
}

// Close releases idle connections; a second call does nothing.
func (d *Destination) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.http.CloseIdleConnections()
	}
	return nil
}
