// Package linkedin is the LinkedIn Matched Audiences destination: it
// keeps a DMP segment of users in step through the Marketing API's
// versioned (Rest.li 2.0) endpoints.
//
// Ensure finds the segment by id or by name in the ad account, or creates
// it, and waits — a bounded number of polls, on the batch's clock — until
// LinkedIn says it is available. A batch becomes one BATCH_CREATE request
// of one element per member (ADD for adds, REMOVE for removals) whose
// answer has a status per element, so refused members are named exactly
// and the rest are applied.
//
// Every request carries a bearer access token, fetched with the refresh
// token and fetched again when LinkedIn refuses it, the monthly
// LinkedIn-Version and X-Restli-Protocol-Version: 2.0.0. Rate limits
// (429) and server errors are retried through the one retry policy.
//
// LinkedIn serves a segment once about 300 of its users matched members;
// after each run the segment's counts are read and a smaller one is
// reported as a warning (and in the report's platform section), not an
// error.
package linkedin

import (
	"time"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	liplatform "github.com/audiencesync/audiencesync/platform/linkedin"
)

// MaxElements is the most users one batch request carries. LinkedIn does
// not document its limit; 1,000 keeps under every reading found.
const MaxElements = 1000

// MinMatched is how many matched members LinkedIn needs before it serves
// a segment.
const MinMatched = 300

// limits are the request limits and pacing; tests lower them.
type limits struct {
	maxElements int
	attempts    int
	minWait     time.Duration
	maxWait     time.Duration
	// readyWait is the wait before each poll of a segment that is not
	// available yet, readyPolls the most polls.
	readyWait  time.Duration
	readyPolls int
}

func defaultLimits() limits {
	// LinkedIn asks to wait 5 seconds after creating a segment before
	// adding users; a minute in all is plenty.
	return limits{maxElements: MaxElements, attempts: 5, minWait: time.Second, maxWait: time.Minute,
		readyWait: 5 * time.Second, readyPolls: 12}
}

// Destination uploads to the DMP segments of one LinkedIn ad account.
type Destination struct {
	account string
	version string
	source  string
	lim     limits
	http    *platformhttp.Client
	tokens  *tokenSource
	vocab   platformhttp.Vocabulary

	// rest says where requests go: with sandbox: true and no endpoint,
	// the sandbox Env.Endpoint starts on first use.
	rest *platformconn.REST
	// tokenURL is token_url; "" for the default (see tokenEndpoint).
	tokenURL string
}

// New builds a LinkedIn destination from validated settings whose secrets
// are resolved. It makes no network call.
func New(s *Settings, env connectors.Env) (*Destination, error) {
	return newDestination(s, env, defaultLimits())
}

func newDestination(s *Settings, env connectors.Env, lim limits) (*Destination, error) {
	// In a sandbox without credentials, the replica's own.
	creds := *s
	if s.Sandbox && creds.AccessToken.IsZero() && !creds.refreshable() {
		creds.ClientID = auth.NewSecret(liplatform.ReplicaClientID)
		creds.ClientSecret = auth.NewSecret(liplatform.ReplicaClientSecret)
		creds.RefreshToken = auth.NewSecret(liplatform.ReplicaRefreshToken)
	}
	rest, err := platformconn.NewREST(s.Settings, connLimits, env, s.Validate, s.AccountID, s.APIVersion)
	if err != nil {
		return nil, err
	}
	d := &Destination{account: rest.Account, version: rest.Version, source: s.SourcePlatform, lim: lim,
		rest: rest, tokenURL: s.TokenURL}
	if d.source == "" {
		d.source = DefaultSourcePlatform
	}
	// The connection's client: its logger, requests_per_second and a
	// burst of the concurrency, over a wire of its own whose idle
	// connections Close releases through the client.
	d.http = rest.HTTP(platformhttp.Options{
		Transport: platformconn.Wire(rest.Concurrency + 2),
		Attempts:  lim.attempts,
		MinWait:   lim.minWait,
		MaxWait:   lim.maxWait,
	})
	rest.Client = d.http
	d.tokens = newTokenSource(&creds, rest.Now)
	d.vocab = vocabulary(d.account, d.version)
	return d, nil
}

// Compile-time interface guard; each optional capability's guard stands
// above the method that provides it.
var _ connectors.Destination = (*Destination)(nil)

// tokenEndpoint is where access tokens are fetched for the API at base:
// token_url when set, else LinkedIn's own for LinkedIn's API and the same
// server's for any other (a sandbox, a proxy).
func (d *Destination) tokenEndpoint(base string) string {
	switch {
	case d.tokenURL != "":
		return d.tokenURL
	case base == DefaultEndpoint:
		return DefaultTokenURL
	}
	return base + "/oauth/v2/accessToken"
}

// Info describes the destination to the engine.
func (d *Destination) Info() connectors.DestinationInfo {
	return d.rest.Info(liplatform.Platform(), d.lim.maxElements)
}

// Close releases idle connections; a second call does nothing.
func (d *Destination) Close() error { return d.rest.Close() }
