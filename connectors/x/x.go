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
	"fmt"
	"strings"
	"sync"
	"time"

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
	account string
	version string
	lim     limits
	now     func() time.Time
	http    *platformhttp.Client
	vocab   platformhttp.Vocabulary

	// base is the API base URL; with sandbox: true and no endpoint it is
	// found on first use through Env.Endpoint.
	baseMu sync.Mutex
	base   string
	rest   *platformconn.REST

	mu sync.Mutex
	// membership is how many days memberships last, per audience Ensure
	// resolved (0: X's default).
	membership map[string]int
}

// New builds an X destination from validated settings whose secrets are
// resolved. It makes no network call.
func New(s *Settings, env connectors.Env) (*Destination, error) {
	return newDestination(s, env, defaultLimits())
}

func newDestination(s *Settings, env connectors.Env, lim limits) (*Destination, error) {
	rest, err := platformconn.NewREST(s.Settings, connLimits, env, s.Validate, s.AccountID, s.APIVersion)
	if err != nil {
		return nil, err
	}
	d := &Destination{account: rest.Account, version: rest.Version, lim: lim, now: rest.Now,
		rest: rest, membership: map[string]int{}}
	if u, ok := rest.StaticURL(); ok {
		d.base = strings.TrimRight(u, "/")
	}
	creds := s.XCredentials
	if s.Sandbox && len(s.missingCredentials()) == 4 {
		creds = auth.XCredentials{
			ConsumerKey: auth.NewSecret(xplatform.ReplicaConsumerKey), ConsumerSecret: auth.NewSecret(xplatform.ReplicaConsumerSecret),
			AccessToken: auth.NewSecret(xplatform.ReplicaAccessToken), AccessSecret: auth.NewSecret(xplatform.ReplicaAccessSecret),
		}
	}
	signer, err := auth.NewXSigner(creds)
	if err != nil {
		return nil, fmt.Errorf("x: %w", err)
	}
	d.http = newClient(&rest.Conn, lim, signer)
	rest.Client = d.http
	d.vocab = vocabulary(d.account)
	return d, nil
}

// Compile-time interface guard; each optional capability's guard stands
// above the method that provides it.
var _ connectors.Destination = (*Destination)(nil)

// Info describes the destination to the engine. Memberships do not lapse
// unless the sync sets membership_days, so nothing needs refreshing.
func (d *Destination) Info() connectors.DestinationInfo {
	return d.rest.Info(xplatform.Platform(), d.lim.maxOps)
}

// Close releases idle connections; a second call does nothing.
func (d *Destination) Close() error { return d.rest.Close() }
