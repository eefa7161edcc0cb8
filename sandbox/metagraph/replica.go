package metagraph

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/audiencesync/audiencesync/platform/meta"
)

// These methods mount the replica on the sandbox (sandbox.Replica).

// Platform is the platform the replica stands in for.
func (s *Server) Platform() string { return meta.Name }

// Owns reports whether r is a Graph API call: its path starts with a
// version, /vNN.N/.
func (s *Server) Owns(r *http.Request) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return versionPattern.MatchString(first)
}

// Inspect is the replica's part of GET /_sandbox/state.
func (s *Server) Inspect(withMembers bool) any {
	return struct {
		Audiences []AudienceState `json:"audiences"`
	}{s.State(withMembers)}
}

// MayChange reports that a GET overriding its method (?method=post) may
// change state.
func (s *Server) MayChange(r *http.Request) bool { return r.URL.Query().Has("method") }

// FaultEndpoints are the endpoint names fault rules may target.
func (s *Server) FaultEndpoints() []string {
	return []string{"customaudiences", "audience", "users", "usersreplace"}
}

// Describe tells a user where the replica is and what it accepts.
func (s *Server) Describe(base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Meta Graph API            endpoint: %s/  (call /%s/...)\n", base, CurrentVersion)
	fmt.Fprintf(&b, "  app_id:          %s\n", AppID)
	fmt.Fprintf(&b, "  app_secret:      %s\n", AppSecret)
	fmt.Fprintf(&b, "  access_token:    %s\n", Token)
	fmt.Fprintf(&b, "  (always expired: %s)\n", ExpiredToken)
	return b.String()
}
