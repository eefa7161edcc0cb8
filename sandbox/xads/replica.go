package xads

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/audiencesync/audiencesync/platform/x"
)

// These methods mount the replica on the sandbox (sandbox.Replica).

// Platform is the platform the replica stands in for.
func (s *Server) Platform() string { return x.Name }

var ownPath = regexp.MustCompile(`^/[0-9]+/accounts(/|$)`)

// Owns reports whether r is an Ads API call: /{version}/accounts/....
func (s *Server) Owns(r *http.Request) bool { return ownPath.MatchString(r.URL.Path) }

// Inspect is the replica's part of GET /_sandbox/state.
func (s *Server) Inspect(withMembers bool) any {
	return struct {
		CustomAudiences []AudienceState `json:"custom_audiences"`
	}{s.State(withMembers)}
}

// FaultEndpoints are the endpoint names fault rules may target.
func (s *Server) FaultEndpoints() []string { return []string{"accounts", "custom_audiences", "users"} }

// Describe tells a user where the replica is and what it accepts.
func (s *Server) Describe(base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "X Ads API v12             endpoint: %s/  (call /12/accounts/{account_id}/...)\n", base)
	fmt.Fprintf(&b, "  consumer_key:    %s\n", ConsumerKey)
	fmt.Fprintf(&b, "  consumer_secret: %s\n", ConsumerSecret)
	fmt.Fprintf(&b, "  access_token:    %s\n", AccessToken)
	fmt.Fprintf(&b, "  access_secret:   %s\n", AccessSecret)
	fmt.Fprintf(&b, "  account_id:      %s (any lowercase alphanumeric id works)\n", Account)
	fmt.Fprintf(&b, "  (always revoked: %s)\n", RevokedToken)
	return b.String()
}
