package metagraph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/platform/meta"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// mount is how the replica is mounted: its platform, its requests (Graph
// API calls: paths that start with a version, /vNN.N/; see owns) and its
// fault endpoints.
var mount = wire.NewMount(meta.Name, owns,
	"customaudiences", "audience", "users", "usersreplace")

// These methods mount the replica on the sandbox (sandbox.Replica and its
// optional capabilities) and render the faults it injects (fault.Renderer).

// owns reports whether r is a Graph API call: its path starts with a
// version, /vNN.N/.
func owns(r *http.Request) bool {
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

// Describe tells a user where the replica is and what it accepts.
func (s *Server) Describe(base string) string {
	return wire.Description{API: "Meta Graph API", Base: base, Call: "/" + meta.ReplicaVersion + "/...",
		Credentials: [][2]string{{"app_id", meta.ReplicaAppID}, {"app_secret", meta.ReplicaAppSecret}, {"access_token", meta.ReplicaToken}},
		Notes:       []string{"(always expired: " + meta.ReplicaExpiredToken + ")"},
	}.String()
}

// throttleMessages are the messages Meta sends with its throttling codes.
var throttleMessages = map[int]string{
	4:   "(#4) Application request limit reached",
	17:  "(#17) User request limit reached",
	32:  "(#32) Page request limit reached",
	613: "(#613) Calls to this api have exceeded the rate limit.",
}

// RenderFault writes an injected fault as the Graph API would: throttling
// codes and expired tokens on HTTP 400 with Meta's error JSON, throttles
// with X-Business-Use-Case-Usage.
func (s *Server) RenderFault(w http.ResponseWriter, r *http.Request, f fault.Fault) {
	minutes := int(f.RetryAfter / time.Minute)
	switch {
	case f.Kind == fault.Expired:
		s.writeError(w, expiredToken(s.opts.Now()))
	case f.Kind == fault.Status && f.Status == http.StatusTooManyRequests:
		s.setUsage(w, r, 100, minutes)
		wire.SetRetryAfter(w.Header(), f.RetryAfter)
		s.writeError(w, &graphError{Message: throttleMessages[4], Type: "OAuthException", Code: 4, IsTransient: true, status: http.StatusTooManyRequests})
	case f.Kind == fault.Status:
		code, msg := 1, "An unknown error occurred"
		if f.Status != http.StatusInternalServerError {
			code, msg = 2, "An unexpected error has occurred. Please retry your request later."
		}
		s.writeError(w, &graphError{Message: msg, Type: "OAuthException", Code: code, IsTransient: true, status: f.Status})
	case f.Code == 1 || f.Code == 2:
		status := http.StatusInternalServerError
		msg := "An unknown error occurred"
		if f.Code == 2 {
			status, msg = http.StatusServiceUnavailable, "An unexpected error has occurred. Please retry your request later."
		}
		s.writeError(w, &graphError{Message: msg, Type: "OAuthException", Code: f.Code, IsTransient: true, status: status})
	default:
		msg, ok := throttleMessages[f.Code]
		subcode := 0
		if !ok {
			msg = fmt.Sprintf("(#%d) There have been too many calls to this ad-account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.", f.Code)
		}
		if f.Code == 17 {
			subcode = 2446079
		}
		s.setUsage(w, r, 100, minutes)
		s.writeError(w, &graphError{Message: msg, Type: "OAuthException", Code: f.Code, ErrorSubcode: subcode, IsTransient: true, status: http.StatusBadRequest})
	}
}

// setUsage writes X-Business-Use-Case-Usage for the ad account a request
// concerns.
func (s *Server) setUsage(w http.ResponseWriter, r *http.Request, pct, minutes int) {
	business := s.businessOf(r)
	usage := map[string][]map[string]any{business: {{
		"type":                            "custom_audience",
		"call_count":                      pct,
		"total_cputime":                   max(1, pct/4),
		"total_time":                      max(1, pct/4),
		"estimated_time_to_regain_access": minutes,
	}}}
	b, _ := json.Marshal(usage)
	w.Header().Set("X-Business-Use-Case-Usage", string(b))
}
