package hubspot

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/audiencesync/audiencesync/connectors/hubspot/replicacreds"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// mount is how the replica is mounted: its platform, its requests (the
// lists, contacts and OAuth APIs) and its fault endpoints.
var mount = wire.NewMount(replicacreds.Name, wire.Prefixes("/crm/v3/lists", "/crm/lists/", contactsPrefix, "/oauth/"),
	"lists", "search", "idmapping", "memberships", "batchread", "contacts", "token")

// These methods mount the replica on the sandbox (sandbox.Replica).

// MayChange reports whether a GET changes what the state file holds:
// none does.
func (s *Server) MayChange(*http.Request) bool { return false }

// ListState describes one list for inspection.
type ListState struct {
	ID             string   `json:"list_id"`
	LegacyID       string   `json:"legacy_list_id,omitempty"`
	Name           string   `json:"name"`
	ObjectTypeID   string   `json:"object_type_id"`
	ProcessingType string   `json:"processing_type"`
	Members        int      `json:"members"`
	RecordIDs      []string `json:"record_ids,omitempty"`
}

// state describes l for inspection; withMembers adds its record ids.
func (l *listRec) state(withMembers bool) ListState {
	st := ListState{ID: l.ID, LegacyID: l.LegacyID, Name: l.Name, ObjectTypeID: l.ObjectTypeID,
		ProcessingType: l.ProcessingType, Members: len(l.Members)}
	if withMembers {
		st.RecordIDs = idStrings(l.Members)
	}
	return st
}

// State lists every list with its size; withMembers adds the record ids.
// The lists sit in the replica's store, a value Restore and Reset replace
// under s.mu, so they are read under it too.
func (s *Server) State(withMembers bool) []ListState {
	return wire.Listing(&s.mu, &s.data.lists, func(_ string, l *listRec) ListState { return l.state(withMembers) })
}

// Inspect is the replica's part of GET /_sandbox/state.
func (s *Server) Inspect(withMembers bool) any {
	lists := s.State(withMembers)
	s.mu.Lock()
	contacts := s.data.count()
	s.mu.Unlock()
	return struct {
		Contacts int         `json:"contacts"`
		Lists    []ListState `json:"lists"`
	}{contacts, lists}
}

// Members returns the record ids in list id, sorted as text; nil when
// there is no such list.
func (s *Server) Members(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.data.lists.Get(id)
	if !ok {
		return nil
	}
	out := idStrings(l.Members)
	// Ascending numbers are not ascending text when lengths differ.
	slices.Sort(out)
	return out
}

// Describe tells a user where the replica is and what it accepts.
func (s *Server) Describe(base string) string {
	d := wire.Description{API: "HubSpot CRM (Lists v3)", Base: base, Call: "/crm/v3/lists/..., /crm/v3/objects/contacts/...",
		Credentials: [][2]string{
			{"access_token", replicacreds.AccessToken + " (private app)"}, {"client_id", replicacreds.ClientID},
			{"client_secret", replicacreds.ClientSecret}, {"refresh_token", replicacreds.RefreshToken},
		},
		Notes: []string{"(always revoked: " + replicacreds.RevokedToken + ")"},
	}
	for _, l := range s.State(false) {
		if l.ObjectTypeID == contactsType {
			d.Notes = append(d.Notes, fmt.Sprintf("list id:%-4s %-9s %-24s %s members", l.ID, l.ProcessingType, strconv.Quote(l.Name), strconv.Itoa(l.Members)))
		}
	}
	return d.String()
}

// RenderFault writes an injected fault as HubSpot would.
func (s *Server) RenderFault(w http.ResponseWriter, _ *http.Request, f fault.Fault) {
	switch {
	case f.Kind == fault.Expired:
		writeError(w, http.StatusUnauthorized, "EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired.")
	case f.Status == http.StatusTooManyRequests:
		h := w.Header()
		h.Set("X-HubSpot-RateLimit-Remaining", "0")
		h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(s.opts.Window.Milliseconds(), 10))
		writeRateLimit(w, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
	case f.Status == http.StatusBadGateway, f.Status == http.StatusServiceUnavailable, f.Status == http.StatusGatewayTimeout:
		writeError(w, f.Status, "", "The service is unavailable; try again.")
	default:
		writeError(w, http.StatusInternalServerError, "", "internal error")
	}
}
