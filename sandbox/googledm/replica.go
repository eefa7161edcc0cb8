package googledm

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/audiencesync/audiencesync/platform/google"
)

// These methods mount the replica on the sandbox (sandbox.Replica).

// Platform is the platform the replica stands in for.
func (s *Server) Platform() string { return google.Name }

// Owns reports whether r is a Data Manager API call: its paths start /v1/.
func (s *Server) Owns(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/v1/") }

// Inspect is the replica's part of GET /_sandbox/state.
func (s *Server) Inspect(withMembers bool) any {
	return struct {
		UserLists []ListState `json:"user_lists"`
	}{s.State(withMembers)}
}

// MayChange reports that a status poll changes state: it counts polls.
func (s *Server) MayChange(r *http.Request) bool { return r.URL.Path == "/v1/requestStatus:retrieve" }

// FaultEndpoints are the endpoint names fault rules may target.
func (s *Server) FaultEndpoints() []string {
	return []string{"ingest", "remove", "removeall", "requeststatus", "userlists"}
}

// Describe tells a user where the replica is and what it accepts.
func (s *Server) Describe(base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Google Data Manager API   endpoint: %s/\n", base)
	fmt.Fprintf(&b, "  access_token:    %s\n", Token)
	fmt.Fprintf(&b, "  (always expired: %s)\n", ExpiredToken)
	return b.String()
}
