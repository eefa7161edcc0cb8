package meta

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
)

// Defaults and limits of the settings.
const (
	DefaultAPIVersion         = "v25.0"
	DefaultCustomerFileSource = "USER_PROVIDED_ONLY"
	DefaultConcurrency        = 2
)

// limits are the defaults and bounds of the shared connection settings:
// at most 16 batches in flight.
var limits = platformconn.Limits{
	Type: Type, Platform: metaplatform.Name, Endpoint: defaultBaseURL,
	Concurrency: DefaultConcurrency, MaxConcurrency: 16,
}

// CustomerFileSources are the values customer_file_source takes: how the
// customer information in the audience was collected.
var CustomerFileSources = []string{"USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"}

// Settings configure a meta connection.
type Settings struct {
	// AdAccount owns the audiences: digits, with or without act_.
	AdAccount string `yaml:"ad_account"`
	// AppID is the app the access token belongs to.
	AppID string `yaml:"app_id"`
	// AppSecret keys appsecret_proof.
	AppSecret auth.Secret `yaml:"app_secret"`
	// AccessToken is a system user (or long-lived user) token with
	// ads_management.
	AccessToken auth.Secret `yaml:"access_token"`
	// APIVersion is the Graph API version (default v25.0).
	APIVersion string `yaml:"api_version"`
	// CustomerFileSource declares, for created audiences, how the data
	// was collected (default USER_PROVIDED_ONLY).
	CustomerFileSource string `yaml:"customer_file_source"`
	// Settings are sandbox (the sandbox credentials are used when none
	// are configured), endpoint, concurrency (default 2, at most 16) and
	// requests_per_second (0, the default, for no cap beyond Meta's own
	// signals).
	platformconn.Settings `yaml:",inline"`
}

var (
	adAccountPattern  = regexp.MustCompile(`^(act_)?[0-9]{1,20}$`)
	appIDPattern      = regexp.MustCompile(`^[0-9]{1,20}$`)
	apiVersionPattern = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,2}$`)
)

// Validate checks the settings without any network call. Secrets may still
// be unresolved references.
func (s *Settings) Validate() error {
	var errs []error
	switch {
	case s.AdAccount == "":
		errs = append(errs, errors.New("ad_account is required: the ad account id from Ads Manager, such as act_1234567890"))
	case !adAccountPattern.MatchString(s.AdAccount):
		errs = append(errs, fmt.Errorf("ad_account %q is not an ad account id: write digits, optionally after act_, such as act_1234567890", s.AdAccount))
	}
	// With sandbox: true and no credentials, the sandbox's own are used.
	if !s.Sandbox || s.hasAnyCredential() {
		if s.AppID == "" {
			errs = append(errs, errors.New(`app_id is required: the id of the Meta app the access token was issued for (quote it: app_id: "1234")`))
		} else if !appIDPattern.MatchString(s.AppID) {
			errs = append(errs, fmt.Errorf("app_id %q is not an app id: write the app's numeric id", s.AppID))
		}
		if s.AppSecret.IsZero() {
			errs = append(errs, errors.New("app_secret is required: the app's secret, as ${env:NAME} or ${file:PATH}; it signs every call (appsecret_proof)"))
		}
		if s.AccessToken.IsZero() {
			errs = append(errs, errors.New("access_token is required: a system user token from Business Manager with ads_management, as ${env:NAME} or ${file:PATH}"))
		}
	}
	if s.APIVersion != "" && !apiVersionPattern.MatchString(s.APIVersion) {
		errs = append(errs, fmt.Errorf("api_version %q is not a Graph API version: write it like %s", s.APIVersion, DefaultAPIVersion))
	}
	if s.CustomerFileSource != "" && !slices.Contains(CustomerFileSources, s.CustomerFileSource) {
		errs = append(errs, fmt.Errorf("customer_file_source %q is not one of %s", s.CustomerFileSource, strings.Join(CustomerFileSources, ", ")))
	}
	if err := s.Settings.Validate(limits); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *Settings) hasAnyCredential() bool {
	return s.AppID != "" || !s.AppSecret.IsZero() || !s.AccessToken.IsZero()
}

func (s *Settings) hasCredentials() bool {
	return s.AppID != "" && !s.AppSecret.IsZero() && !s.AccessToken.IsZero()
}

// applyDefaults fills what was left out.
func (s *Settings) applyDefaults() {
	s.AdAccount = strings.TrimPrefix(s.AdAccount, "act_")
	if s.APIVersion == "" {
		s.APIVersion = DefaultAPIVersion
	}
	if s.CustomerFileSource == "" {
		s.CustomerFileSource = DefaultCustomerFileSource
	}
}
