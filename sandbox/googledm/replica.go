package googledm

import (
	"fmt"
	"net/http"
	"time"

	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// mount is how the replica is mounted: its platform, its requests (Data
// Manager API calls: their paths start /v1/) and its fault endpoints.
var mount = wire.NewMount(google.Name, wire.Prefixes("/v1/"),
	"ingest", "remove", "removeall", "requeststatus", "userlists")

// These methods mount the replica on the sandbox (sandbox.Replica and its
// optional capabilities) and render the faults it injects (fault.Renderer).

// Inspect is the replica's part of GET /_sandbox/state.
func (s *Server) Inspect(withMembers bool) any {
	return struct {
		UserLists []ListState `json:"user_lists"`
	}{s.State(withMembers)}
}

// MayChange reports that a status poll changes state: it counts polls.
func (s *Server) MayChange(r *http.Request) bool { return r.URL.Path == "/v1/requestStatus:retrieve" }

// Describe tells a user where the replica is and what it accepts.
func (s *Server) Describe(base string) string {
	return wire.Description{API: "Google Data Manager API", Base: base,
		Credentials: [][2]string{{"access_token", google.ReplicaToken}},
		Notes:       []string{"(always expired: " + google.ReplicaExpiredToken + ")"},
	}.String()
}

// RenderFault writes an injected fault as the Data Manager API would.
func (s *Server) RenderFault(w http.ResponseWriter, _ *http.Request, f fault.Fault) {
	switch {
	case f.Kind == fault.Expired:
		writeError(w, unauthenticated("ACCESS_TOKEN_EXPIRED",
			"Request had invalid authentication credentials: the access token has expired. Refresh it and retry."))
	case f.Status == http.StatusTooManyRequests:
		writeError(w, &apiError{httpStatus: http.StatusTooManyRequests, status: "RESOURCE_EXHAUSTED",
			message: "Quota exceeded for quota metric 'Requests' of service 'datamanager.googleapis.com'.",
			reason:  "RATE_LIMIT_EXCEEDED", retryDelay: max(f.RetryAfter, time.Second)})
	case f.Status == http.StatusServiceUnavailable, f.Status == http.StatusBadGateway:
		writeError(w, &apiError{httpStatus: f.Status, status: "UNAVAILABLE",
			message: "The service is currently unavailable."})
	case f.Status == http.StatusGatewayTimeout:
		writeError(w, &apiError{httpStatus: f.Status, status: "DEADLINE_EXCEEDED",
			message: "The request deadline was exceeded."})
	default:
		writeError(w, &apiError{httpStatus: http.StatusInternalServerError, status: "INTERNAL",
			message: "Internal error encountered."})
	}
}

// ListState describes one user list for inspection.
type ListState struct {
	Account     string   `json:"account"`
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	UploadKeys  []string `json:"uploadKeyTypes"`
	wire.Membership
}

// State lists every user list with its member count; withMembers includes
// the stored identifiers.
func (s *Server) State(withMembers bool) []ListState {
	return wire.Listing(s.Changes.Settled(), &s.lists, func(id string, l *list) ListState {
		st := ListState{Account: l.account, ID: id, DisplayName: l.res.DisplayName, Membership: wire.Inspect(withMembers, l.members)}
		if l.res.IngestedUserListInfo != nil {
			st.UploadKeys = l.res.IngestedUserListInfo.UploadKeyTypes
		}
		return st
	})
}

// Members returns the identifiers stored in user list listID, sorted: a
// hashed e-mail or phone is its 64-character hex digest, a mobile id is
// "mobile:ID", an address is "address:GIVEN|FAMILY|REGION|POSTAL". Nil if
// the list does not exist.
func (s *Server) Members(listID string) []string {
	return wire.MembersOf(s.Changes.Settled(), &s.lists, listID, func(l *list) wire.Set { return l.members })
}

// CreateList adds a CONTACT_ID user list directly (for tests) and returns
// its id.
func (s *Server) CreateList(account, displayName string) string {
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	l := s.newListLocked(account, userList{
		DisplayName:        displayName,
		MembershipDuration: fmt.Sprintf("%ds", MaxMembershipDurationDay*24*3600),
		IngestedUserListInfo: &ingestedUserListInfo{
			UploadKeyTypes: []string{"CONTACT_ID"},
			ContactIDInfo:  &contactIDInfo{DataSourceType: "DATA_SOURCE_TYPE_FIRST_PARTY"},
		},
	})
	return l.res.ID
}
