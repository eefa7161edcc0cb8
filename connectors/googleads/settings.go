package googleads

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/platform/google"
)

// Settings configure a google_ads connection.
type Settings struct {
	// OperatingAccount is the Google Ads customer id that owns the user
	// lists: 10 digits, dashes allowed (123-456-7890).
	OperatingAccount string `yaml:"operating_account"`
	// LoginAccount is the manager (MCC) account the credentials belong
	// to, when they reach the operating account through one.
	LoginAccount string `yaml:"login_account"`
	// AccountType is the Data Manager account type of both accounts
	// (default GOOGLE_ADS).
	AccountType string `yaml:"account_type"`

	// Credentials holds a service account key (JSON).
	Credentials auth.Secret `yaml:"credentials"`
	// OAuth2 are an installed-app OAuth client (client_id, client_secret)
	// and the refresh token `audiencesync auth google` printed, or a
	// short-lived access_token used as is.
	platformconn.OAuth2 `yaml:",inline"`
	// TokenURL replaces Google's OAuth token endpoint (proxies, tests).
	TokenURL string `yaml:"token_url"`

	// TermsOfServiceAccepted says the operating account accepted Google's
	// Customer Match terms. Uploads are refused until it is true; with
	// sandbox: true it defaults to true.
	TermsOfServiceAccepted *bool `yaml:"terms_of_service_accepted"`
	// ValidateOnly asks Google to check requests without applying them.
	ValidateOnly bool `yaml:"validate_only"`

	// Settings are sandbox, endpoint, requests_per_second (default 10)
	// and concurrency (default 4, at most 64).
	platformconn.Settings `yaml:",inline"`
	// MaxAttempts is the most tries per request (default 5), within the
	// batch's bound of package retry; MinRetryWait and MaxRetryWait bound
	// the back-off steps (defaults 5s and 60s, as Google's own clients).
	// A delay Google asks for is honoured.
	MaxAttempts  int           `yaml:"max_attempts"`
	MinRetryWait time.Duration `yaml:"min_retry_wait"`
	MaxRetryWait time.Duration `yaml:"max_retry_wait"`
}

// Defaults.
const (
	defaultAccountType = "GOOGLE_ADS"
	defaultAttempts    = 5
	defaultMinWait     = 5 * time.Second
	defaultMaxWait     = 60 * time.Second
)

// limits are the defaults and bounds of the shared connection settings.
var limits = platformconn.Limits{
	Type: Type, Platform: google.Name, Endpoint: "https://datamanager.googleapis.com/",
	Concurrency: 4, MaxConcurrency: 64, RequestsPerSecond: 10,
}

var accountTypes = []string{"GOOGLE_ADS", "DISPLAY_VIDEO_PARTNER", "DISPLAY_VIDEO_ADVERTISER", "DATA_PARTNER"}

// Validate checks the settings without network access. Secrets may still
// be unresolved: only whether they are set is looked at.
func (s *Settings) Validate() error {
	if _, err := accountID("operating_account", s.OperatingAccount, true); err != nil {
		return err
	}
	if _, err := accountID("login_account", s.LoginAccount, false); err != nil {
		return err
	}
	if s.AccountType != "" && !slices.Contains(accountTypes, s.AccountType) {
		return fmt.Errorf("google_ads: account_type %q is not one of %s", s.AccountType, strings.Join(accountTypes, ", "))
	}
	creds := s.credentials()
	if !s.Sandbox || creds.Method() != "" || !creds.ClientID.IsZero() || !creds.ClientSecret.IsZero() {
		if err := creds.Validate(); err != nil {
			return fmt.Errorf("google_ads: %w", err)
		}
	}
	if err := s.Settings.Validate(limits); err != nil {
		return err
	}
	if s.TokenURL != "" {
		if u, err := url.Parse(s.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("google_ads: token_url %q is not an http(s) URL", s.TokenURL)
		}
	}
	switch {
	case s.MaxAttempts < 0 || s.MaxAttempts > 20:
		return errors.New("google_ads: max_attempts must be between 1 and 20")
	case s.MinRetryWait < 0 || s.MaxRetryWait < 0:
		return errors.New("google_ads: min_retry_wait and max_retry_wait must not be negative")
	case s.MaxRetryWait > 0 && s.MinRetryWait > s.MaxRetryWait:
		return errors.New("google_ads: min_retry_wait is longer than max_retry_wait")
	}
	return nil
}

// accountID checks a Google Ads customer id and returns it without dashes.
func accountID(key, v string, required bool) (string, error) {
	if v == "" {
		if required {
			return "", fmt.Errorf("google_ads: %s is required: the 10-digit Google Ads customer id (shown top right in Google Ads, e.g. 123-456-7890)", key)
		}
		return "", nil
	}
	id := strings.ReplaceAll(strings.TrimSpace(v), "-", "")
	if len(id) != 10 || strings.Trim(id, "0123456789") != "" {
		return "", fmt.Errorf("google_ads: %s %q is not a Google Ads customer id: 10 digits, dashes allowed (123-456-7890)", key, v)
	}
	return id, nil
}

func (s *Settings) credentials() auth.GoogleCredentials {
	return auth.GoogleCredentials{
		JSON:         s.Credentials,
		ClientID:     s.ClientID,
		ClientSecret: s.ClientSecret,
		RefreshToken: s.RefreshToken,
		AccessToken:  s.AccessToken,
		TokenURL:     s.TokenURL,
	}
}

// termsAccepted is the effective terms setting: the replica stands in for
// an account that accepted them.
func (s *Settings) termsAccepted() bool {
	if s.TermsOfServiceAccepted != nil {
		return *s.TermsOfServiceAccepted
	}
	return s.Sandbox
}

const sample = `# Google Ads Customer Match through the Data Manager API. Members are
# uploaded hashed (SHA-256, hex); region and postal code go in clear.
google:
  type: google_ads
  # The Google Ads customer id that owns the audience (dashes allowed).
  operating_account: "123-456-7890"
  # The manager (MCC) account your credentials use, if any.
  # login_account: "111-222-3333"
  # One way to authenticate (none needed with sandbox: true):
  # a service account key with access to the account...
  credentials: ${file:./google-service-account.json}
  # ...or an OAuth client and the refresh token from "audiencesync auth google":
  # client_id: ${env:GOOGLE_CLIENT_ID}
  # client_secret: ${env:GOOGLE_CLIENT_SECRET}
  # refresh_token: ${file:./google-refresh-token}
  # ...or a short-lived token (e.g. from gcloud auth print-access-token):
  # access_token: ${env:GOOGLE_ACCESS_TOKEN}
  # Accept the Customer Match terms in Google Ads (Tools > Audience
  # manager), then set this; uploads are refused until you do.
  terms_of_service_accepted: true
  # Talk to the local replica instead of Google (no real audience is touched).
  sandbox: false
  # API base URL override, e.g. a sandbox started with "audiencesync sandbox".
  # endpoint: http://127.0.0.1:8089/
  # Client-side limits: requests a second (retries included) and batches
  # of up to 10,000 members in flight at once.
  requests_per_second: 10
  concurrency: 4
  # Ask Google to check requests without applying them.
  validate_only: false
`
