package salesforce

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/audiencesync/audiencesync/connectors/salesforce/replicacreds"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// mount is how the replica is mounted: its platform, its requests (the
// REST, Bulk and OAuth APIs under /services/) and its fault endpoints.
var mount = wire.NewMount(replicacreds.Name, wire.Prefixes("/services/"),
	"token", "query", "jobs", "results")

// These methods mount the replica on the sandbox (sandbox.Replica).

// MayChange reports whether a GET changes what the state file holds:
// none does (job polls move jobs on, but jobs are not saved).
func (s *Server) MayChange(*http.Request) bool { return false }

// CampaignState describes one campaign for inspection.
type CampaignState struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Active bool   `json:"active"`
	// Members counts its member rows; converted Leads' rows included.
	Members int      `json:"members"`
	People  []string `json:"people,omitempty"`
}

// State lists the campaigns with their member counts; withMembers adds
// the Contact and Lead ids.
func (s *Server) State(withMembers bool) []CampaignState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CampaignState
	for _, c := range s.data.objects["Campaign"] {
		people := s.peopleLocked(c["Id"])
		st := CampaignState{ID: c["Id"], Name: c["Name"], Active: c["IsActive"] == "true", Members: len(people)}
		if withMembers {
			st.People = people
		}
		out = append(out, st)
	}
	return out
}

func (s *Server) peopleLocked(campaign string) []string {
	var out []string
	for _, m := range s.data.objects["CampaignMember"] {
		if m["CampaignId"] != campaign {
			continue
		}
		id := m["ContactId"]
		if id == "" {
			id = m["LeadId"]
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Inspect is the replica's part of GET /_sandbox/state.
func (s *Server) Inspect(withMembers bool) any {
	camps := s.State(withMembers)
	s.mu.Lock()
	contacts, leads := len(s.data.objects["Contact"]), len(s.data.objects["Lead"])
	s.mu.Unlock()
	return struct {
		Contacts  int             `json:"contacts"`
		Leads     int             `json:"leads"`
		Campaigns []CampaignState `json:"campaigns"`
	}{contacts, leads, camps}
}

// Members returns the Contact and Lead ids of campaign id's members,
// sorted; nil when there is no such campaign.
func (s *Server) Members(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.data.byID[id]; c == nil || !strings.HasPrefix(id, keyPrefixes["Campaign"]) {
		return nil
	}
	return s.peopleLocked(id)
}

// Describe tells a user where the replica is and what it accepts.
func (s *Server) Describe(base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Salesforce (REST, Bulk 2.0) endpoint: %s/  (login and API under /services/...)\n", base)
	fmt.Fprintf(&b, "  client_id:     %s (JWT bearer: username %s, the key in connectors/salesforce/replicacreds)\n", replicacreds.ClientID, replicacreds.Username)
	fmt.Fprintf(&b, "  client_secret: %s\n", replicacreds.ClientSecret)
	fmt.Fprintf(&b, "  refresh_token: %s\n", replicacreds.RefreshToken)
	for _, c := range s.State(false) {
		fmt.Fprintf(&b, "  campaign %s %-20q %d member rows\n", c.ID, c.Name, c.Members)
	}
	return b.String()
}

// RenderFault writes an injected fault as Salesforce would.
func (s *Server) RenderFault(w http.ResponseWriter, r *http.Request, f fault.Fault) {
	switch {
	case r.URL.Path == tokenPath && f.Status < 500:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authentication failure")
	case f.Kind == fault.Expired, f.Status == http.StatusUnauthorized:
		writeError(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
	case f.Status == http.StatusForbidden, f.Status == http.StatusTooManyRequests:
		s.mu.Lock()
		s.limitHeaderLocked(w)
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
	case f.Status == http.StatusBadGateway, f.Status == http.StatusServiceUnavailable, f.Status == http.StatusGatewayTimeout:
		writeError(w, f.Status, "SERVER_UNAVAILABLE", "The server is temporarily unavailable; try again.")
	default:
		writeError(w, http.StatusInternalServerError, "UNKNOWN_EXCEPTION", "An unexpected error occurred.")
	}
}
