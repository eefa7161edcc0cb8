package xads

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/audiencesync/audiencesync/platform/x"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// mount is how the replica is mounted: its platform, its requests (Ads
// API calls: /{version}/accounts/...; see owns) and its fault endpoints.
var mount = wire.NewMount(x.Name, owns,
	"accounts", "custom_audiences", "users")

// These methods mount the replica on the sandbox (sandbox.Replica and its
// optional capabilities) and render the faults it injects (fault.Renderer).

var ownPath = regexp.MustCompile(`^/[0-9]+/accounts(/|$)`)

// owns reports whether r is an Ads API call: /{version}/accounts/....
func owns(r *http.Request) bool { return ownPath.MatchString(r.URL.Path) }

// Inspect is the replica's part of GET /_sandbox/state.
func (s *Server) Inspect(withMembers bool) any {
	return struct {
		CustomAudiences []AudienceState `json:"custom_audiences"`
	}{s.State(withMembers)}
}

// Describe tells a user where the replica is and what it accepts.
func (s *Server) Describe(base string) string {
	return wire.Description{API: "X Ads API v12", Base: base, Call: "/12/accounts/{account_id}/...",
		Credentials: [][2]string{
			{"consumer_key", x.ReplicaConsumerKey}, {"consumer_secret", x.ReplicaConsumerSecret},
			{"access_token", x.ReplicaAccessToken}, {"access_secret", x.ReplicaAccessSecret},
			{"account_id", x.ReplicaAccount + " (any lowercase alphanumeric id works)"},
		},
		Notes: []string{"(always revoked: " + x.ReplicaRevokedToken + ")"},
	}.String()
}

// RenderFault writes an injected fault as the Ads API would.
func (s *Server) RenderFault(w http.ResponseWriter, r *http.Request, f fault.Fault) {
	params := map[string]string{}
	switch {
	case f.Kind == fault.Expired:
		writeError(w, unauthorized("This request is not properly authenticated: the access token was revoked or has expired."), params)
	case f.Status == http.StatusTooManyRequests:
		reset := s.opts.Now().Add(f.RetryAfter)
		w.Header().Set("x-rate-limit-remaining", "0")
		w.Header().Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
		wire.SetRetryAfter(w.Header(), f.RetryAfter)
		writeError(w, newError(http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Rate limit exceeded"), params)
	case f.Status == http.StatusServiceUnavailable, f.Status == http.StatusBadGateway:
		writeError(w, newError(f.Status, "SERVICE_UNAVAILABLE", "Service unavailable"), params)
	case f.Status == http.StatusGatewayTimeout:
		writeError(w, newError(f.Status, "CANCELLED_REQUEST", "The request took too long and was cancelled"), params)
	default:
		writeError(w, newError(http.StatusInternalServerError, "INTERNAL_ERROR", "Internal error"), params)
	}
}
