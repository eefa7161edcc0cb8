// Package salesforce is the Salesforce source: it reads the members of a
// campaign (its Contacts and Leads) or the records of any SOQL query as an
// audience.
//
// A sync names the audience in source.audience: a campaign by id (701…),
// by name (name:NAME, or any text that is neither an id nor a query), or
// a query written soql:SELECT …. A campaign is read as
//
//	SELECT Id, ContactId, LeadId, Contact.F…, Lead.F… FROM CampaignMember
//	WHERE CampaignId = '701…' AND (ContactId != null OR Lead.IsConverted = false)
//
// so converted leads (whose people are now Contacts) are left out. The
// fields a sync maps are Contact field names; a Lead member reads the same
// field of the Lead, except the Mailing* address fields, which Leads spell
// without the prefix (MailingPostalCode is a Lead's PostalCode). A field
// written CONTACT_FIELD|LEAD_FIELD names each side itself. The key is the
// Contact's or Lead's id. A query's fields are its column names as
// Salesforce returns them (Email, Account.Name).
//
// Before reading, the source counts the records (SELECT COUNT() with the
// same FROM and WHERE) and declares the count to the engine
// (connectors.DeclareCount), so a read that yields fewer fails and
// removes nothing. Up to bulk_threshold records are read with the REST
// query API, following nextRecordsUrl; more with a Bulk API 2.0 query job:
// created, polled with back-off until JobComplete, and its CSV results
// paged by locator and parsed as they stream, in constant memory.
//
// Authentication is the JWT bearer flow (an RS256 assertion signed with
// the connected app's key), a refresh token, or the client credentials
// flow. An access token Salesforce reports invalid (INVALID_SESSION_ID)
// is replaced once per operation; refused again, the read stops. The
// org's daily API limit (REQUEST_LIMIT_EXCEEDED) stops the read at once
// with the Sforce-Limit-Info figures, removing nothing.
package salesforce

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/salesforce/replicacreds"
)

// Type is the connection type this package serves.
const Type = "salesforce"

// DefaultLoginURL is where production orgs authenticate; sandboxes use
// https://test.salesforce.com, and a My Domain URL works for either.
const DefaultLoginURL = "https://login.salesforce.com"

// Defaults of the settings.
const (
	// DefaultAPIVersion is the REST API version requests name.
	DefaultAPIVersion = "62.0"
	// DefaultBulkThreshold is the most records read with the REST query
	// API; larger audiences use a Bulk API 2.0 query job.
	DefaultBulkThreshold = 50_000
	// DefaultBulkPage is the most records one Bulk results page asks for.
	DefaultBulkPage = 100_000
	// DefaultBulkTimeout bounds how long a Bulk job may take to complete.
	DefaultBulkTimeout = 30 * time.Minute
)

// Reasons a record is rejected, as counted in run reports.
const (
	// ReasonMissingKey is a record whose key field is empty.
	ReasonMissingKey = "record.missing_key"
	// ReasonNoIdentifiers is a record none of whose mapped fields holds a
	// value.
	ReasonNoIdentifiers = "record.no_identifiers"
	// ReasonInvalidConsent is a consent field holding an unknown answer.
	ReasonInvalidConsent = "consent.invalid"
)

// DefaultOptOutFields are the fields whose "true" means the person opted
// out: mapped to a consent question, they answer denied.
var DefaultOptOutFields = []string{"HasOptedOutOfEmail"}

var connLimits = platformconn.Limits{
	Type: Type, Platform: replicacreds.Name, Endpoint: DefaultLoginURL,
	Concurrency: 1, MaxConcurrency: 1,
}

// Settings configure a Salesforce source.
type Settings struct {
	// sandbox, endpoint (replaces login_url: where tokens are asked for)
	// and requests_per_second.
	platformconn.Settings `yaml:",inline"`
	// LoginURL is where tokens are asked for (default
	// https://login.salesforce.com); the API is then called at the
	// instance_url Salesforce answers with.
	LoginURL string `yaml:"login_url"`
	// ClientID is the connected app's consumer key.
	ClientID string `yaml:"client_id"`
	// Username and PrivateKey select the JWT bearer flow: the user to
	// act as and the PEM RSA key whose certificate the app holds.
	Username   string      `yaml:"username"`
	PrivateKey auth.Secret `yaml:"private_key"`
	// ClientSecret is the consumer secret: with RefreshToken the refresh
	// token flow, alone the client credentials flow.
	ClientSecret auth.Secret `yaml:"client_secret"`
	RefreshToken auth.Secret `yaml:"refresh_token"`
	// APIVersion is the REST API version, such as 62.0.
	APIVersion string `yaml:"api_version"`
	// BulkThreshold is the most records read with the REST query API.
	BulkThreshold int64 `yaml:"bulk_threshold"`
	// BulkPage is the most records one Bulk results page asks for.
	BulkPage int `yaml:"bulk_page"`
	// BulkTimeout bounds how long a Bulk query job may take.
	BulkTimeout time.Duration `yaml:"bulk_timeout"`
	// OptOutFields are fields whose "true" means the person opted out
	// (default HasOptedOutOfEmail).
	OptOutFields []string `yaml:"opt_out_fields"`
}

var apiVersion = regexp.MustCompile(`^[1-9][0-9]\.[0-9]$`)

// flow is how the source obtains access tokens.
type flow uint8

const (
	flowJWT flow = iota + 1
	flowRefresh
	flowClientCredentials
)

func (f flow) String() string {
	return [...]string{flowJWT: "JWT bearer", flowRefresh: "refresh token", flowClientCredentials: "client credentials"}[f]
}

// flow picks the token flow from the credentials given; 0 when they make
// none.
func (s *Settings) flow() flow {
	switch {
	case !s.PrivateKey.IsZero() || s.Username != "":
		return flowJWT
	case !s.RefreshToken.IsZero():
		return flowRefresh
	case !s.ClientSecret.IsZero():
		return flowClientCredentials
	}
	return 0
}

// Validate checks the settings without any network call.
func (s *Settings) Validate() error {
	var errs []error
	if err := s.Settings.Validate(connLimits); err != nil {
		errs = append(errs, err)
	}
	if s.LoginURL != "" {
		probe := platformconn.Settings{Endpoint: s.LoginURL}
		if err := probe.Validate(connLimits); err != nil {
			errs = append(errs, fmt.Errorf("login_url: %w", err))
		}
	}
	sandboxDefaults := s.Sandbox && s.ClientID == "" && s.flow() == 0
	switch f := s.flow(); {
	case sandboxDefaults:
	case s.ClientID == "":
		errs = append(errs, errors.New("salesforce: client_id is missing: set it to the connected app's consumer key (Setup → App Manager → the app → View)"))
	case f == 0:
		errs = append(errs, errors.New("salesforce: no credentials: set username and private_key (JWT bearer flow), client_secret and refresh_token, or client_secret alone (client credentials flow)"))
	case f == flowJWT && (s.Username == "" || s.PrivateKey.IsZero()):
		errs = append(errs, errors.New("salesforce: the JWT bearer flow needs both username and private_key"))
	case f == flowJWT && (!s.RefreshToken.IsZero() || !s.ClientSecret.IsZero()):
		errs = append(errs, errors.New("salesforce: give either username and private_key (JWT bearer) or client_secret (with refresh_token), not both"))
	case f == flowRefresh && s.ClientSecret.IsZero():
		errs = append(errs, errors.New("salesforce: the refresh token flow needs client_secret too"))
	}
	if s.APIVersion != "" && !apiVersion.MatchString(s.APIVersion) {
		errs = append(errs, fmt.Errorf("salesforce: api_version %q: write it like %s", s.APIVersion, DefaultAPIVersion))
	}
	if s.BulkThreshold < 0 || s.BulkPage < 0 || s.BulkTimeout < 0 {
		errs = append(errs, errors.New("salesforce: bulk_threshold, bulk_page and bulk_timeout cannot be negative (0 takes the default)"))
	}
	for _, f := range s.OptOutFields {
		if strings.TrimSpace(f) == "" {
			errs = append(errs, errors.New("salesforce: opt_out_fields has an empty name"))
		}
	}
	return errors.Join(errs...)
}

const sample = `# A Salesforce org. A sync picks the audience in source.audience: a
# campaign by id (701…) or name (name:Spring launch), whose Contact and
# Lead members are read (converted leads left out), or a query written
# soql:SELECT Id, Email FROM Contact WHERE …. source.fields name Contact
# fields (Email, Phone, MobilePhone, FirstName, LastName,
# MailingPostalCode, MailingCountryCode…), read from the Lead's own field
# for Lead members (PostalCode for MailingPostalCode); write
# ContactField|LeadField to name both.
crm:
  type: salesforce
  client_id: 3MVG9…                   # the connected app's consumer key
  # JWT bearer flow: the user to act as and the app's private key…
  username: integration@example.com
  private_key: ${file:./salesforce-key.pem}
  # …or the app's secret with a refresh token, or alone (client credentials):
  # client_secret: ${env:SALESFORCE_CLIENT_SECRET}
  # refresh_token: ${env:SALESFORCE_REFRESH_TOKEN}
  login_url: https://login.salesforce.com   # test.salesforce.com for a sandbox org
  api_version: "62.0"
  # Above this many records a Bulk API 2.0 query job reads the audience.
  bulk_threshold: 50000
  opt_out_fields: [HasOptedOutOfEmail]
  # sandbox: true reads the local replica's seeded campaigns instead.
`

// Spec declares the Salesforce source for a registry.
func Spec() connectors.Spec {
	return connectors.SourceSpec(Type,
		"Reads a Salesforce campaign's Contact and Lead members, or any SOQL query (REST query or Bulk API 2.0).",
		sample, New)
}

// Source reads Salesforce audiences. It holds no connection between
// calls; each Read, Check, CheckAudience or ListAudiences authenticates
// on its own.
type Source struct {
	crm   platformconn.CRM
	creds credentials
	login string // "" when the sandbox's URL is found at first use
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
	crm, err := platformconn.NewCRM(s.Settings, connLimits, env, s.Validate, s.OptOutFields, DefaultOptOutFields)
	if err != nil {
		return nil, err
	}
	creds := credentials{
		flow: s.flow(), clientID: s.ClientID, username: s.Username,
		clientSecret: s.ClientSecret.Reveal(), refreshToken: s.RefreshToken.Reveal(),
	}
	if s.Sandbox && creds.flow == 0 && creds.clientID == "" {
		creds = credentials{flow: flowJWT, clientID: replicacreds.ClientID, username: replicacreds.Username}
		creds.key, err = parseKey(replicacreds.PrivateKey)
	} else if creds.flow == flowJWT {
		creds.key, err = parseKey(s.PrivateKey.Reveal())
	}
	if err != nil {
		return nil, fmt.Errorf("salesforce: private_key: %w", err)
	}
	if s.APIVersion != "" {
		tune.version = s.APIVersion
	}
	if s.BulkThreshold > 0 {
		tune.bulkThreshold = s.BulkThreshold
	}
	if s.BulkPage > 0 {
		tune.bulkPage = s.BulkPage
	}
	if s.BulkTimeout > 0 {
		tune.bulkTimeout = s.BulkTimeout
	}
	login := s.LoginURL
	if s.Endpoint != "" {
		login = s.Endpoint
	}
	switch {
	case s.Sandbox && s.Endpoint == "":
		login = "" // the in-process sandbox, started at first use
	case login == "":
		login = DefaultLoginURL
	}
	return &Source{crm: crm, creds: creds, login: strings.TrimRight(login, "/"), tune: tune}, nil
}

// Close does nothing: every call closes what it opened.
func (s *Source) Close() error { return nil }
