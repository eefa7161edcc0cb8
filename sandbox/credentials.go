package sandbox

import (
	"fmt"
	"strings"

	"github.com/audiencesync/audiencesync/sandbox/googledm"
	"github.com/audiencesync/audiencesync/sandbox/metagraph"
	"github.com/audiencesync/audiencesync/sandbox/xads"
)

// Credentials are the fixed credentials the sandbox accepts. They are
// public constants, not secrets: the replicas exist so configs can be tried
// without any real account.
type Credentials struct {
	GoogleAccessToken string // Authorization: Bearer
	MetaAppID         string
	MetaAppSecret     string // keys appsecret_proof
	MetaAccessToken   string
	MetaVersion       string // Graph API version to call, e.g. v25.0
	XConsumerKey      string
	XConsumerSecret   string
	XAccessToken      string
	XAccessSecret     string
	XAccountID        string // an ad account id to use in X calls

	// Tokens that are always refused as expired or revoked, for testing
	// re-authentication paths.
	GoogleExpiredToken string
	MetaExpiredToken   string
	XRevokedToken      string
}

// Credentials returns the credentials the sandbox accepts.
func (s *Server) Credentials() Credentials { return SandboxCredentials() }

// SandboxCredentials returns the credentials every sandbox accepts.
func SandboxCredentials() Credentials {
	return Credentials{
		GoogleAccessToken:  googledm.Token,
		MetaAppID:          metagraph.AppID,
		MetaAppSecret:      metagraph.AppSecret,
		MetaAccessToken:    metagraph.Token,
		MetaVersion:        metagraph.CurrentVersion,
		XConsumerKey:       xads.ConsumerKey,
		XConsumerSecret:    xads.ConsumerSecret,
		XAccessToken:       xads.AccessToken,
		XAccessSecret:      xads.AccessSecret,
		XAccountID:         xads.Account,
		GoogleExpiredToken: googledm.ExpiredToken,
		MetaExpiredToken:   metagraph.ExpiredToken,
		XRevokedToken:      xads.RevokedToken,
	}
}

// Summary is a printable description of the sandbox at baseURL: its
// endpoints, the credentials it accepts, and the fault spec in force.
func (s *Server) Summary(baseURL string) string {
	c := s.Credentials()
	base := strings.TrimSuffix(baseURL, "/")
	var b strings.Builder
	fmt.Fprintf(&b, "audiencesync sandbox listening on %s (local replicas; no real audience is touched)\n\n", base)
	fmt.Fprintf(&b, "Google Data Manager API   endpoint: %s/\n", base)
	fmt.Fprintf(&b, "  access_token:    %s\n", c.GoogleAccessToken)
	fmt.Fprintf(&b, "  (always expired: %s)\n\n", c.GoogleExpiredToken)
	fmt.Fprintf(&b, "Meta Graph API            endpoint: %s/  (call /%s/...)\n", base, c.MetaVersion)
	fmt.Fprintf(&b, "  app_id:          %s\n", c.MetaAppID)
	fmt.Fprintf(&b, "  app_secret:      %s\n", c.MetaAppSecret)
	fmt.Fprintf(&b, "  access_token:    %s\n", c.MetaAccessToken)
	fmt.Fprintf(&b, "  (always expired: %s)\n\n", c.MetaExpiredToken)
	fmt.Fprintf(&b, "X Ads API v12             endpoint: %s/  (call /12/accounts/{account_id}/...)\n", base)
	fmt.Fprintf(&b, "  consumer_key:    %s\n", c.XConsumerKey)
	fmt.Fprintf(&b, "  consumer_secret: %s\n", c.XConsumerSecret)
	fmt.Fprintf(&b, "  access_token:    %s\n", c.XAccessToken)
	fmt.Fprintf(&b, "  access_secret:   %s\n", c.XAccessSecret)
	fmt.Fprintf(&b, "  account_id:      %s (any lowercase alphanumeric id works)\n", c.XAccountID)
	fmt.Fprintf(&b, "  (always revoked: %s)\n\n", c.XRevokedToken)
	fmt.Fprintf(&b, "Inspect: GET %s/_sandbox/state[?members=1]   Reset: POST %s/_sandbox/reset\n", base, base)
	spec := s.faults.String()
	if spec == "" {
		spec = "none"
	}
	fmt.Fprintf(&b, "Faults:  %s   (change: POST %s/_sandbox/faults)\n", spec, base)
	if s.opts.Latency > 0 {
		fmt.Fprintf(&b, "Latency: +%s per request\n", s.opts.Latency)
	}
	return b.String()
}
