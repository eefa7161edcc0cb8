package linkedindmp

import (
	"net/http"
	"strings"

	"github.com/audiencesync/audiencesync/platform/linkedin"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// mount is how the replica is mounted: its platform, its requests
// (Marketing API calls the replica serves, and the token endpoint; see
// owns) and its fault endpoints.
var mount = wire.NewMount(linkedin.Name, owns,
	"accounts", "segments", "users", "oauth")

// These methods mount the replica on the sandbox (sandbox.Replica and its
// optional capabilities) and render the faults it injects (fault.Renderer).

// owns reports whether r is a Marketing API call the replica serves, or
// the token endpoint.
func owns(r *http.Request) bool {
	return r.URL.Path == tokenPath || wire.HasPathPrefix(r, "/rest/dmpSegments", "/rest/adAccounts/")
}

// MayChange reports whether a GET changes what the state file holds: a
// read of a BUILDING segment moves it towards READY.
func (s *Server) MayChange(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/rest/dmpSegments/")
}

// Inspect is the replica's part of GET /_sandbox/state.
func (s *Server) Inspect(withMembers bool) any {
	return struct {
		Segments []SegmentState `json:"dmp_segments"`
	}{s.State(withMembers)}
}

// SegmentState describes one DMP segment for inspection.
type SegmentState struct {
	wire.Listed
	Status  string `json:"status"`
	Matched int    `json:"matched"`
	wire.Membership
}

// State lists every segment with its member count; withMembers includes
// the stored identifiers.
func (s *Server) State(withMembers bool) []SegmentState {
	return wire.Listing(&s.mu, &s.segments, func(_ string, sg *segment) SegmentState {
		status := "BUILDING"
		if s.ready(sg) {
			status = "READY"
		}
		return SegmentState{Listed: sg.Listed(), Status: status, Matched: sg.matchedPeople(), Membership: wire.Inspect(withMembers, sg.Members)}
	})
}

// Members returns the identifiers of segment id, sorted (see the package
// documentation for their form); nil if there is no such segment.
func (s *Server) Members(id string) []string {
	return wire.MembersOf(&s.mu, &s.segments, id, func(sg *segment) wire.Set { return sg.Members })
}

// Describe tells a user where the replica is and what it accepts.
func (s *Server) Describe(base string) string {
	return wire.Description{API: "LinkedIn Marketing API", Base: base, Call: "/rest/dmpSegments...",
		Credentials: [][2]string{
			{"client_id", linkedin.ReplicaClientID}, {"client_secret", linkedin.ReplicaClientSecret},
			{"refresh_token", linkedin.ReplicaRefreshToken}, {"access_token", linkedin.ReplicaAccessToken},
			{"account_id", linkedin.ReplicaAccount + " (any numeric id works)"},
		},
		Notes: []string{"(always revoked: " + linkedin.ReplicaRevokedToken + "; token endpoint " + base + tokenPath + ")"},
	}.String()
}

// RenderFault writes an injected fault as LinkedIn would: in its error
// shape, and for the token endpoint in OAuth's.
func (s *Server) RenderFault(w http.ResponseWriter, r *http.Request, f fault.Fault) {
	if r.URL.Path == tokenPath {
		switch {
		case f.Kind == fault.Expired:
			writeOAuthError(w, oauthError{Error: "invalid_grant", Description: "The refresh token has expired or was revoked", status: http.StatusBadRequest})
		case f.Status == http.StatusTooManyRequests:
			wire.SetRetryAfter(w.Header(), f.RetryAfter)
			writeOAuthError(w, oauthError{Error: "temporarily_unavailable", Description: "Too many requests", status: http.StatusTooManyRequests})
		default:
			writeOAuthError(w, oauthError{Error: "server_error", Description: "Internal error", status: f.Status})
		}
		return
	}
	switch {
	case f.Kind == fault.Expired:
		writeError(w, unauthorized(65601, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"))
	case f.Status == http.StatusTooManyRequests:
		wire.SetRetryAfter(w.Header(), f.RetryAfter)
		writeError(w, newError(http.StatusTooManyRequests, 101, "TOO_MANY_REQUESTS", "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."))
	case f.Status == http.StatusBadGateway, f.Status == http.StatusServiceUnavailable, f.Status == http.StatusGatewayTimeout:
		writeError(w, newError(f.Status, 0, "SERVICE_UNAVAILABLE", http.StatusText(f.Status)))
	default:
		writeError(w, newError(http.StatusInternalServerError, 0, "INTERNAL_SERVER_ERROR", "Internal Server Error"))
	}
}
