package linkedin

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	liplatform "github.com/audiencesync/audiencesync/platform/linkedin"
)

// Type is the connection type this package serves.
const Type = "linkedin"

// Defaults for unset settings.
const (
	DefaultEndpoint = "https://api.linkedin.com"
	// DefaultTokenURL is LinkedIn's OAuth 2 token endpoint.
	DefaultTokenURL = "https://www.linkedin.com/oauth/v2/accessToken"
	// DefaultAPIVersion is the monthly LinkedIn-Version sent. LinkedIn
	// retires a version about a year after it ships: raise it (and
	// api_version in configs that pin one) as versions sunset.
	DefaultAPIVersion = "202610"
	// DefaultSourcePlatform is the sourcePlatform of segments created.
	DefaultSourcePlatform = "STREAMING"
	DefaultConcurrency    = 4
	// MaxConcurrency bounds concurrency: LinkedIn allows an app 500 users
	// requests a minute per member.
	MaxConcurrency = 16
	// DefaultRequestsPerSecond keeps under those 500 a minute.
	DefaultRequestsPerSecond = 8
)

// connLimits are the defaults and bounds of the shared connection settings.
var connLimits = platformconn.Limits{
	Type: Type, Platform: liplatform.Name, Endpoint: DefaultEndpoint,
	Concurrency: DefaultConcurrency, MaxConcurrency: MaxConcurrency,
	RequestsPerSecond: DefaultRequestsPerSecond,
	APIVersion:        DefaultAPIVersion, ReplicaAccount: liplatform.ReplicaAccount,
}

// Settings configure a LinkedIn Matched Audiences destination.
type Settings struct {
	// AccountID is the ad account (sponsored account) id, the number
	// Campaign Manager shows. Optional with sandbox: true.
	AccountID string `yaml:"account_id"`
	// OAuth2 are the developer app (client_id, client_secret) and a
	// refresh token of a member with a role on the ad account: access
	// tokens are fetched and refreshed with them. access_token alone is a
	// token obtained elsewhere, used until it expires (60 days). All are
	// optional with sandbox: true, which then uses the sandbox's own.
	platformconn.OAuth2 `yaml:",inline"`
	// TokenURL replaces the token endpoint (default LinkedIn's; with an
	// endpoint set, that endpoint's /oauth/v2/accessToken).
	TokenURL string `yaml:"token_url"`
	// APIVersion is the LinkedIn-Version header, YYYYMM (default
	// DefaultAPIVersion).
	APIVersion string `yaml:"api_version"`
	// SourcePlatform is the sourcePlatform of segments audiencesync
	// creates (default STREAMING); LinkedIn may assign a partner its own.
	SourcePlatform string `yaml:"source_platform"`
	// Settings are sandbox, endpoint (default https://api.linkedin.com),
	// concurrency (default 4) and requests_per_second (default 8).
	platformconn.Settings `yaml:",inline"`
}

// The keys that name ids, versions and enum values.
var (
	accountKey = platformconn.Key{Name: "account_id", Pattern: regexp.MustCompile(`^[1-9][0-9]{0,18}$`),
		Missing: "copy the ad account id (a number such as 507404993) from Campaign Manager",
		Invalid: "a LinkedIn ad account id: write the number only, as Campaign Manager shows it (not the urn:li:sponsoredAccount: URN)"}
	versionKey = platformconn.Key{Name: "api_version", Pattern: regexp.MustCompile(`^20[0-9]{2}(0[1-9]|1[0-2])$`),
		Invalid: "a LinkedIn-Version: write the year and month, such as " + DefaultAPIVersion}
	sourceKey = platformconn.Key{Name: "source_platform", Pattern: regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`),
		Invalid: "a LinkedIn enum value: write it in capitals, such as " + DefaultSourcePlatform}
)

// Validate checks the settings without any network call. Secrets may not
// be resolved yet: only whether they are configured is checked.
func (s *Settings) Validate() error {
	for _, k := range []struct {
		key platformconn.Key
		v   string
	}{{accountKey, s.AccountID}, {versionKey, s.APIVersion}, {sourceKey, s.SourcePlatform}} {
		if err := k.key.Check(Type, k.v, s.Sandbox); err != nil {
			return err
		}
	}
	if err := s.checkCredentials(); err != nil {
		return fmt.Errorf("linkedin: %w", err)
	}
	if s.TokenURL != "" {
		if err := (&platformconn.Settings{Endpoint: s.TokenURL}).Validate(platformconn.Limits{Type: "token_url", Endpoint: DefaultTokenURL, MaxConcurrency: 1}); err != nil {
			return fmt.Errorf("linkedin: %w", err)
		}
	}
	return s.Settings.Validate(connLimits)
}

// checkCredentials checks that one way to authenticate is configured:
// client_id, client_secret and refresh_token (with or without a first
// access_token), or access_token alone; with sandbox: true also none.
func (s *Settings) checkCredentials() error {
	refresh := !s.ClientID.IsZero() || !s.ClientSecret.IsZero() || !s.RefreshToken.IsZero()
	switch {
	case refresh && (s.ClientID.IsZero() || s.ClientSecret.IsZero() || s.RefreshToken.IsZero()):
		return errors.New("client_id, client_secret and refresh_token go together: give all three (the developer app's Auth tab, and the refresh token of its OAuth flow), as ${env:NAME} or ${file:PATH}")
	case !refresh && s.AccessToken.IsZero() && !s.Sandbox:
		return errors.New("no credentials: set client_id, client_secret and refresh_token (or an access_token) of a member with a role on the ad account, as ${env:NAME} or ${file:PATH}")
	}
	return nil
}

// refreshable reports whether access tokens can be fetched afresh.
func (s *Settings) refreshable() bool { return !s.RefreshToken.IsZero() }

const sample = `# Keeps a LinkedIn Matched Audiences DMP segment of users in step: finds
# the segment by name in the ad account (or creates it), waits until it is
# available, then adds and removes users in batches. E-mail addresses are
# sent SHA-256 hashed; Android advertising ids as they are.
linkedin:
  type: linkedin
  # The ad account id, as Campaign Manager shows it.
  account_id: "507404993"
  # OAuth 2: the developer app (approved for the Audiences program, scope
  # rw_dmp_segments) and the refresh token of a member with a role other
  # than VIEWER on the ad account. Access tokens are refreshed with them.
  client_id: ${env:LINKEDIN_CLIENT_ID}
  client_secret: ${env:LINKEDIN_CLIENT_SECRET}
  refresh_token: ${env:LINKEDIN_REFRESH_TOKEN}
  # Or an access token obtained elsewhere, used until it expires:
  # access_token: ${env:LINKEDIN_ACCESS_TOKEN}
  # The monthly LinkedIn-Version (YYYYMM); versions retire after a year.
  api_version: "202610"
  # sourcePlatform of the segments audiencesync creates (default STREAMING).
  source_platform: STREAMING
  # true talks to the local sandbox replica instead of LinkedIn; credentials
  # and account_id may then be left out.
  sandbox: false
  # API base URL (default https://api.linkedin.com), e.g. a proxy or a
  # sandbox started with "audiencesync sandbox --addr".
  endpoint: https://api.linkedin.com
  # Token endpoint (default LinkedIn's; with endpoint set, its
  # /oauth/v2/accessToken).
  token_url: https://www.linkedin.com/oauth/v2/accessToken
  # Batches uploaded at once (default 4).
  concurrency: 4
  # Cap on requests a second, retries included (default 8, under the 500
  # a minute LinkedIn allows per member).
  requests_per_second: 8
`

// Spec declares the LinkedIn destination for a registry.
func Spec() connectors.Spec {
	return connectors.DestinationSpec(Type,
		"Uploads audience changes to a LinkedIn Matched Audiences DMP segment (Marketing API, OAuth 2).",
		sample, New)
}
