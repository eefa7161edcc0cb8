package x

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
)

// Type is the connection type this package serves.
const Type = "x"

// Defaults for unset settings.
const (
	DefaultEndpoint    = "https://ads-api.x.com"
	DefaultAPIVersion  = "12"
	DefaultConcurrency = 4
	// MaxConcurrency bounds concurrency: the users endpoint allows 1,500
	// requests a minute per account, which a few connections already use up.
	MaxConcurrency = 32
)

// connLimits are the defaults and bounds of the shared connection settings.
var connLimits = platformconn.Limits{
	Type: Type, Platform: xplatform.Name, Endpoint: DefaultEndpoint,
	Concurrency: DefaultConcurrency, MaxConcurrency: MaxConcurrency,
	APIVersion: DefaultAPIVersion, ReplicaAccount: xplatform.ReplicaAccount,
}

// Settings configure an X Ads custom audience destination.
type Settings struct {
	// AccountID is the ad account (e.g. 18ce54d4x5t), as shown in X Ads
	// Manager. Optional with sandbox: true.
	AccountID string `yaml:"account_id"`
	// XCredentials are the four OAuth 1.0a user-context credentials of
	// the X developer app: consumer_key, consumer_secret, access_token and
	// access_secret. Optional with sandbox: true, which then uses the
	// sandbox's own.
	auth.XCredentials `yaml:",inline"`
	// APIVersion is the Ads API version in every path (default 12).
	APIVersion string `yaml:"api_version"`
	// Settings are sandbox (the local replica of the Ads API instead of
	// X), endpoint (default https://ads-api.x.com), concurrency (default
	// 4) and requests_per_second (0, the default, relies on the
	// x-rate-limit-* headers X sends alone).
	platformconn.Settings `yaml:",inline"`
}

// The keys that name ids and versions.
var (
	accountKey = platformconn.Key{Name: "account_id", Pattern: regexp.MustCompile(`^[0-9a-z]{1,32}$`),
		Missing: "copy the ad account id (such as 18ce54d4x5t) from X Ads Manager",
		Invalid: "an X ad account id: use the lowercase letters and digits shown in X Ads Manager (such as 18ce54d4x5t)"}
	versionKey = platformconn.Key{Name: "api_version", Pattern: regexp.MustCompile(`^[1-9][0-9]{0,2}$`),
		Invalid: "an Ads API version: write the number only, such as " + DefaultAPIVersion}
)

// Validate checks the settings without any network call. Secrets may not
// be resolved yet: only whether they are configured is checked.
func (s *Settings) Validate() error {
	if err := accountKey.Check(Type, s.AccountID, s.Sandbox); err != nil {
		return err
	}
	if missing := s.missingCredentials(); len(missing) > 0 && (!s.Sandbox || len(missing) < 4) {
		return fmt.Errorf("x: %s not set: give all four OAuth 1.0a credentials of the X developer app (Keys and tokens), as ${env:NAME} or ${file:PATH}",
			strings.Join(missing, ", "))
	}
	if err := versionKey.Check(Type, s.APIVersion, s.Sandbox); err != nil {
		return err
	}
	return s.Settings.Validate(connLimits)
}

// missingCredentials names the credentials that are not configured.
func (s *Settings) missingCredentials() []string {
	var out []string
	for _, c := range []struct {
		key string
		s   auth.Secret
	}{
		{"consumer_key", s.ConsumerKey}, {"consumer_secret", s.ConsumerSecret},
		{"access_token", s.AccessToken}, {"access_secret", s.AccessSecret},
	} {
		if c.s.IsZero() {
			out = append(out, c.key)
		}
	}
	return out
}

const sample = `# Uploads audience changes to an X (Twitter) Ads custom audience through
# the Ads API users endpoint: adds and updates as Update operations, removals
# as Delete. Identifiers are sent SHA-256 hashed (partner_user_id in clear).
x:
  type: x
  # The ad account id, as shown in X Ads Manager.
  account_id: 18ce54d4x5t
  # OAuth 1.0a user context: the developer app's consumer key and secret, and
  # the access token and secret of a user with access to the ad account.
  consumer_key: ${env:X_CONSUMER_KEY}
  consumer_secret: ${env:X_CONSUMER_SECRET}
  access_token: ${env:X_ACCESS_TOKEN}
  access_secret: ${env:X_ACCESS_SECRET}
  # Ads API version (default 12).
  api_version: "12"
  # true talks to the local sandbox replica instead of X; credentials and
  # account_id may then be left out.
  sandbox: false
  # API base URL (default https://ads-api.x.com), e.g. a proxy or a sandbox
  # started with "audiencesync sandbox --addr".
  endpoint: https://ads-api.x.com
  # Batches uploaded at once (default 4).
  concurrency: 4
  # Cap on requests a second, retries included; 0 (the default) paces by
  # the x-rate-limit-* headers X sends.
  requests_per_second: 0
`

// Spec declares the X destination for a registry.
func Spec() connectors.Spec {
	return connectors.DestinationSpec(Type,
		"Uploads audience changes to an X (Twitter) Ads custom audience (Ads API v12, OAuth 1.0a).",
		sample, New)
}
