// Package hubspot is the HubSpot source: it reads the contacts of a HubSpot
// list (Lists v3) as an audience.
//
// A sync names the list in source.audience, by name (matched ignoring
// case), as id:N (a v3 list id) or as legacy:N (a v1 id, translated
// through HubSpot's id mapping first: the two numberings overlap, so a
// bare number is refused as ambiguous). MANUAL, DYNAMIC and SNAPSHOT lists
// read alike. Memberships are paged 250 at a time in record-id order and
// the contacts read in batches of 100, asking only for the properties the
// sync maps; batch reads run a few at a time while the next membership
// pages are fetched.
//
// The list's size is declared to the engine (connectors.DeclareCount), so
// a read that yields fewer records fails and removes nothing. A contact
// deleted between its membership page and its batch read (HubSpot answers
// 207 and names it) is counted as contact.not_found, not lost silently.
//
// Requests stay within HubSpot's limits as its answers state them
// (X-HubSpot-RateLimit-Max, -Remaining, -Interval-Milliseconds,
// -Daily-Remaining): the source waits before HubSpot would answer 429. A
// 429 it gets anyway is read by its policyName: a rolling (ten-secondly)
// limit is waited out and the request repeated, within the shared retry
// policy (connectors/retry); the daily limit stops the read with a
// LimitError, so the run removes nothing. Authentication is a private-app
// access token, or an OAuth app's refresh token exchanged for access tokens
// that are refreshed as they expire (and once more if HubSpot reports one
// expired early).
package hubspot

import (
	"errors"
	"strings"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/hubspot/replicacreds"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
)

// Type is the connection type this package serves.
const Type = "hubspot"

// DefaultEndpoint is HubSpot's API base URL.
const DefaultEndpoint = "https://api.hubapi.com"

// Reasons a contact is rejected, as counted in run reports.
const (
	// ReasonNotFound is a list member HubSpot no longer has: the contact
	// was deleted or archived after its membership was read.
	ReasonNotFound = "contact.not_found"
	// ReasonMissingKey is a contact whose source.key property is empty.
	ReasonMissingKey = "contact.missing_key"
	// ReasonNoIdentifiers is a contact none of whose mapped properties
	// holds a value.
	ReasonNoIdentifiers = "contact.no_identifiers"
	// ReasonInvalidConsent is a consent property holding an unknown answer.
	ReasonInvalidConsent = "consent.invalid"
)

// Limits of the HubSpot APIs the source reads.
const (
	// MembershipPage is the most memberships one page returns.
	MembershipPage = 250
	// BatchRead is the most contacts one batch read returns.
	BatchRead = 100
)

// DefaultOptOutProperties are the properties whose "true" means the
// contact opted out: mapped to a consent question, they answer denied.
var DefaultOptOutProperties = []string{"hs_email_optout"}

var connLimits = platformconn.Limits{
	Type: Type, Platform: replicacreds.Name, Endpoint: DefaultEndpoint,
	Concurrency: 2, MaxConcurrency: 8,
}

// Settings configure a HubSpot source.
type Settings struct {
	// sandbox, endpoint, concurrency (batch reads in flight) and
	// requests_per_second (a cap below HubSpot's, to leave room for other
	// integrations sharing the app).
	platformconn.Settings `yaml:",inline"`
	// AccessToken is a private app's access token.
	AccessToken auth.Secret `yaml:"access_token"`
	// ClientID, ClientSecret and RefreshToken are an OAuth app's
	// credentials and a refresh token of the installing account.
	ClientID     string      `yaml:"client_id"`
	ClientSecret auth.Secret `yaml:"client_secret"`
	RefreshToken auth.Secret `yaml:"refresh_token"`
	// OptOutProperties are contact properties whose "true" means the
	// contact opted out (default hs_email_optout). A consent question
	// mapped to one answers denied for "true" and leaves the
	// destination's default otherwise; any other consent property is read
	// as granted/denied (true/false, yes/no…).
	OptOutProperties []string `yaml:"opt_out_properties"`
}

// Validate checks the settings without any network call.
func (s *Settings) Validate() error {
	var errs []error
	if err := s.Settings.Validate(connLimits); err != nil {
		errs = append(errs, err)
	}
	oauth := s.ClientID != "" || !s.ClientSecret.IsZero() || !s.RefreshToken.IsZero()
	switch {
	case !s.AccessToken.IsZero() && oauth:
		errs = append(errs, errors.New("hubspot: give either access_token (a private app) or client_id, client_secret and refresh_token (an OAuth app), not both"))
	case oauth && (s.ClientID == "" || s.ClientSecret.IsZero() || s.RefreshToken.IsZero()):
		errs = append(errs, errors.New("hubspot: OAuth needs client_id, client_secret and refresh_token together"))
	case !oauth && s.AccessToken.IsZero() && !s.Sandbox:
		errs = append(errs, errors.New("hubspot: no credentials: set access_token to a private app's token (Settings → Integrations → Private apps), or client_id, client_secret and refresh_token of an OAuth app"))
	}
	for _, p := range s.OptOutProperties {
		if strings.TrimSpace(p) == "" {
			errs = append(errs, errors.New("hubspot: opt_out_properties has an empty name"))
		}
	}
	return errors.Join(errs...)
}

const sample = `# A HubSpot account's contact lists. A sync picks the list in
# source.audience: by name ("Newsletter subscribers"), as id:N (the list's
# id in HubSpot's Lists v3) or as legacy:N (an old v1 list id, translated).
# source.fields map identifier kinds to contact properties (email, phone,
# mobilephone, firstname, lastname, zip, country…).
crm:
  type: hubspot
  # A private app's token (scopes crm.lists.read, crm.objects.contacts.read)…
  access_token: ${env:HUBSPOT_TOKEN}
  # …or an OAuth app and a refresh token of the installing account:
  # client_id: 2f6a…
  # client_secret: ${env:HUBSPOT_CLIENT_SECRET}
  # refresh_token: ${env:HUBSPOT_REFRESH_TOKEN}
  # Properties whose "true" means opted out (default [hs_email_optout]).
  opt_out_properties: [hs_email_optout]
  # Batch reads in flight (1 to 8, default 2). HubSpot's own limits are
  # read from its answers; requests_per_second caps them further.
  concurrency: 2
  # sandbox: true reads the local replica's seeded lists instead.
`

// Spec declares the HubSpot source for a registry.
func Spec() connectors.Spec {
	return connectors.SourceSpec(Type,
		"Reads the contacts of a HubSpot list (Lists v3: MANUAL, DYNAMIC or SNAPSHOT), by name or id.",
		sample, New)
}

// Source reads HubSpot lists. It holds no connection between calls; each
// Read, Check or ListAudiences sets up its own client and tokens.
type Source struct {
	crm   platformconn.CRM
	creds credentials
	tune  tuning
}

var (
	_ connectors.Source          = (*Source)(nil)
	_ connectors.Checker         = (*Source)(nil)
	_ connectors.AudienceLister  = (*Source)(nil)
	_ connectors.AudienceChecker = (*Source)(nil)
)

// New builds a source from validated settings whose secrets are resolved.
// It makes no network call.
func New(s *Settings, env connectors.Env) (*Source, error) {
	return newSource(s, env, defaultTuning())
}

func newSource(s *Settings, env connectors.Env, tune tuning) (*Source, error) {
	crm, err := platformconn.NewCRM(s.Settings, connLimits, env, s.Validate, s.OptOutProperties, DefaultOptOutProperties)
	if err != nil {
		return nil, err
	}
	creds := credentials{
		accessToken:  s.AccessToken.Reveal(),
		clientID:     s.ClientID,
		clientSecret: s.ClientSecret.Reveal(),
		refreshToken: s.RefreshToken.Reveal(),
	}
	if s.Sandbox && creds == (credentials{}) {
		creds.accessToken = replicacreds.AccessToken
	}
	return &Source{crm: crm, creds: creds, tune: tune}, nil
}

// Close does nothing: every call closes what it opened.
func (s *Source) Close() error { return nil }
