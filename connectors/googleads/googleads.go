// Package googleads is the google_ads destination: Google Ads Customer
// Match through the Data Manager API (google.golang.org/api/datamanager/v1).
//
// Ensure finds the Customer Match user list by id or display name and
// creates it when allowed; Apply sends adds, updates and refreshes with
// audienceMembers:ingest and removals with audienceMembers:remove, one
// batch of up to 10,000 members per request; RemoveAll empties the list for
// a full refresh; Feedback polls requestStatus:retrieve for the requests a
// run sent; Check lists the account's user lists.
//
// Every request goes through one retrying HTTP client (platformhttp) whose
// transport carries the OAuth 2 credentials, so retries are authenticated
// too; option.WithHTTPClient hands that client to the generated API client.
package googleads

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	datamanager "google.golang.org/api/datamanager/v1"
	"google.golang.org/api/option"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/connectors/retry"
	"github.com/audiencesync/audiencesync/platform/google"
)

// Type is the connection type this package serves.
const Type = "google_ads"

// Limits of the Data Manager API.
const (
	// MaxBatch is the most audience members one request may carry.
	MaxBatch = 10000
	// MaxIdentifiers is the most user identifiers one member may carry.
	MaxIdentifiers = 10
	// MaxMembershipDays is the longest membership a user list allows.
	MaxMembershipDays = 540
)

// Spec declares the google_ads destination for a registry. Customer Match
// refuses uploads without consent.
func Spec() connectors.Spec {
	return connectors.DestinationSpec(Type,
		"Google Ads Customer Match lists through the Data Manager API (hashed e-mail, phone and address).",
		sample, New, connectors.ConsentRequired)
}

// Destination uploads to Customer Match user lists of one operating
// account. It is safe for concurrent use.
type Destination struct {
	s       Settings // defaults applied
	account string   // operating account id, digits only
	login   string   // login account id, "" when none
	creds   auth.GoogleCredentials
	log     *zap.Logger
	conn    platformconn.Conn
	now     func() time.Time

	mu        sync.Mutex
	api       *datamanager.Service // built on first use
	http      *platformhttp.Client
	tokens    *auth.GoogleTokenSource
	transport *http.Transport
	closed    bool
}

// Compile-time interface guard; each optional capability's guard stands
// above the method that provides it.
var _ connectors.Destination = (*Destination)(nil)

// New builds a destination from settings. It validates them and reads the
// credentials but makes no network call; the API client (and, with
// sandbox: true, the local replica) is set up on first use.
func New(s *Settings, env connectors.Env) (*Destination, error) {
	conn, err := platformconn.New(s.Settings, limits, env, s.Validate)
	if err != nil {
		return nil, err
	}
	d := &Destination{s: *s, log: conn.Log, conn: conn, now: conn.Now}
	d.s.Settings = conn.Settings
	d.account, _ = accountID("operating_account", s.OperatingAccount, true)
	d.login, _ = accountID("login_account", s.LoginAccount, false)
	if d.s.AccountType == "" {
		d.s.AccountType = defaultAccountType
	}
	if d.s.MaxAttempts == 0 {
		d.s.MaxAttempts = defaultAttempts
	}
	if d.s.MinRetryWait == 0 {
		d.s.MinRetryWait = defaultMinWait
	}
	if d.s.MaxRetryWait == 0 {
		d.s.MaxRetryWait = max(defaultMaxWait, d.s.MinRetryWait)
	}
	d.creds = s.credentials()
	if s.Sandbox && d.creds.Method() == "" {
		d.creds.AccessToken = auth.NewSecret(google.ReplicaToken)
	}
	// Read a key file now, so a malformed one fails at start-up.
	if err := d.creds.CheckKey(); err != nil {
		return nil, fmt.Errorf("google_ads: %w", err)
	}
	return d, nil
}

// Info describes the destination to the engine.
func (d *Destination) Info() connectors.DestinationInfo {
	return connectors.DestinationInfo{
		Platform:       google.Platform(),
		Kinds:          google.Platform().Kinds(),
		MaxBatch:       MaxBatch,
		MaxIdentifiers: 0, // Apply keeps the first ten by its own priority
		Concurrency:    d.s.Concurrency,
		RefreshWindow:  MaxMembershipDays * 24 * time.Hour,
	}
}

// Close releases idle connections. It may be called more than once.
func (d *Destination) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.transport != nil {
		d.transport.CloseIdleConnections()
	}
	d.closed = true
	return nil
}

// service returns the API client, building it on first use: the base URL
// (asking for the sandbox when configured), the token source and the
// retrying HTTP client that carries it.
func (d *Destination) service(ctx context.Context) (*datamanager.Service, *auth.GoogleTokenSource, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, nil, connectors.Fatal(errors.New("google_ads: destination is closed"))
	}
	if d.api != nil {
		return d.api, d.tokens, nil
	}
	base := ""
	if d.s.Sandbox || d.s.Endpoint != "" {
		// Otherwise the client library's own endpoint is used.
		var err error
		if base, err = d.conn.BaseURL(ctx); err != nil {
			return nil, nil, err
		}
	}
	// Token requests outlive this call: they use a context of their own
	// that keeps ctx's values but not its cancellation.
	tokens, err := auth.NewGoogleTokenSource(context.WithoutCancel(ctx), d.creds)
	if err != nil {
		return nil, nil, connectors.Fatal(fmt.Errorf("google_ads: %w", err))
	}
	tr := platformconn.Wire(d.s.Concurrency * 2)
	hc := d.conn.HTTP(platformhttp.Options{
		Attempts:   d.s.MaxAttempts,
		MinWait:    d.s.MinRetryWait,
		MaxWait:    d.s.MaxRetryWait,
		CheckRetry: checkRetry,
		Signal:     retrySignal,
		Transport:  auth.GoogleTransport(tokens, tr),
		Timeout:    2 * time.Minute,
	})
	opts := []option.ClientOption{option.WithHTTPClient(hc.StandardClient())}
	if base != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(base, "/")+"/"))
	}
	api, err := datamanager.NewService(ctx, opts...)
	if err != nil {
		return nil, nil, connectors.Fatal(fmt.Errorf("google_ads: build the Data Manager client: %w", err))
	}
	d.api, d.tokens, d.transport, d.http = api, tokens, tr, hc
	return api, tokens, nil
}

// call runs fn with the API client. When Google refuses the access token,
// the token is refreshed and fn runs once more; a second refusal, or a
// token that cannot be refreshed, asks the user to re-authenticate.
// retries, when set, counts the extra call, which the batch's retry budget
// counts too.
func (d *Destination) call(ctx context.Context, op string, retries *int, fn func(api *datamanager.Service) error) error {
	api, tokens, err := d.service(ctx)
	if err != nil {
		return err
	}
	gen := tokens.Generation()
	err = fn(api)
	if isUnauthenticated(err) && tokens.Refresh(gen) && retry.Take(ctx) {
		d.log.Info("access token refused; refreshed it and retrying", zap.String("call", op))
		if retries != nil {
			*retries++
		}
		err = fn(api)
	}
	if err == nil {
		return nil
	}
	// A transport error holds the request's URL (*url.Error).
	return d.classify(ctx, op, tokens.Method(), auth.RedactError(err))
}

// destination is the request destination for user list id.
func (d *Destination) destination(listID string) []*datamanager.Destination {
	dest := &datamanager.Destination{
		OperatingAccount:     &datamanager.ProductAccount{AccountType: d.s.AccountType, AccountId: d.account},
		ProductDestinationId: listID,
	}
	if d.login != "" {
		dest.LoginAccount = &datamanager.ProductAccount{AccountType: d.s.AccountType, AccountId: d.login}
	}
	return []*datamanager.Destination{dest}
}

// parent is the resource name of the operating account.
func (d *Destination) parent() string {
	return "accountTypes/" + d.s.AccountType + "/accounts/" + d.account
}

// loginHeader names the manager account on user list calls, which take it
// as a header rather than in the body.
func (d *Destination) loginHeader(h http.Header) {
	if d.login != "" {
		h.Set("login-account", "accountTypes/"+d.s.AccountType+"/accounts/"+d.login)
	}
}
