package meta

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/audiencesync/audiencesync/auth"
)

// Defaults and limits of the settings.
const (
	DefaultAPIVersion         = "v25.0"
	DefaultCustomerFileSource = "USER_PROVIDED_ONLY"
	DefaultConcurrency        = 2
	maxConcurrency            = 16
)

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
	// Sandbox talks to the local replica; the sandbox credentials are used
	// when none are configured.
	Sandbox bool `yaml:"sandbox"`
	// Endpoint overrides the API base URL.
	Endpoint string `yaml:"endpoint"`
	// Concurrency is how many uploads run at once (default 2).
	Concurrency int `yaml:"concurrency"`
	// RequestsPerSecond caps the request rate, retries included; 0 for no
	// cap beyond Meta's own signals.
	RequestsPerSecond float64 `yaml:"requests_per_second"`
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
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
			errs = append(errs, fmt.Errorf("endpoint %q is not an API base URL: write it like https://graph.facebook.com/ or http://127.0.0.1:8080/", s.Endpoint))
		}
	}
	if s.Concurrency < 0 || s.Concurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency %d is out of range: use 1 to %d (default %d)", s.Concurrency, maxConcurrency, DefaultConcurrency))
	}
	if s.RequestsPerSecond < 0 {
		errs = append(errs, fmt.Errorf("requests_per_second %g is negative: use 0 for no cap", s.RequestsPerSecond))
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
	if s.Concurrency == 0 {
		s.Concurrency = DefaultConcurrency
	}
}
