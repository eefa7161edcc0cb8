package metagraph

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/platform/meta"
)

// More credentials the replica knows, for token inspection and ad-account
// checks.
const (
	// ExpiringToken is accepted like Token, but debug_token reports that it
	// expires ExpiringIn from now, to exercise expiry warnings.
	ExpiringToken = "sandbox-meta-expiring-token"
	// ExpiringIn is how long ExpiringToken has left.
	ExpiringIn = 3 * 24 * time.Hour
	// AppAccessToken is the app token ("app_id|app_secret"), which may only
	// call debug_token.
	AppAccessToken = meta.ReplicaAppID + "|" + meta.ReplicaAppSecret
)

// tokenScopes are the permissions the sandbox tokens carry.
var tokenScopes = []string{"ads_management", "ads_read", "business_management"}

// fields a client may read on an ad account.
var adAccountFields = []string{"id", "account_id", "name", "account_status", "currency", "timezone_name", "business"}

// debugToken answers GET /debug_token?input_token=…: what Meta knows about
// a token. Invalid tokens are described, not refused, as Graph does.
func (s *Server) debugToken(w http.ResponseWriter, _ *http.Request, c *call) *graphError {
	if err := checkParams(c.params, "input_token", "fields"); err != nil {
		return err
	}
	input := c.params.Get("input_token")
	if input == "" {
		return paramError("The parameter input_token is required")
	}
	now := s.opts.Now()
	data := map[string]any{
		"app_id":      meta.ReplicaAppID,
		"application": "audiencesync sandbox",
		"type":        "SYSTEM_USER",
		"user_id":     "100000000000001",
		"issued_at":   now.Add(-24 * time.Hour).Unix(),
		"expires_at":  0, // system-user tokens do not expire
		"is_valid":    true,
		"scopes":      tokenScopes,
		// data access of system-user tokens does not lapse either
		"data_access_expires_at": 0,
	}
	switch input {
	case meta.ReplicaToken:
	case ExpiringToken:
		data["type"] = "USER"
		data["expires_at"] = now.Add(ExpiringIn).Unix()
		data["data_access_expires_at"] = now.Add(60 * 24 * time.Hour).Unix()
	case meta.ReplicaExpiredToken:
		e := expiredToken(now)
		data["type"] = "USER"
		data["is_valid"] = false
		data["expires_at"] = now.Add(-time.Hour).Unix()
		data["error"] = map[string]any{"code": e.Code, "subcode": e.ErrorSubcode, "message": e.Message}
	default:
		data = map[string]any{"is_valid": false, "scopes": []string{},
			"error": map[string]any{"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"}}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
	return nil
}

// readAdAccount answers GET /act_{id}: any ad account id is reachable with
// the sandbox token, and active.
func (s *Server) readAdAccount(w http.ResponseWriter, _ *http.Request, c *call) *graphError {
	if err := checkParams(c.params, "fields"); err != nil {
		return err
	}
	fields := []string{"id"}
	if raw := c.params.Get("fields"); raw != "" {
		fields = nil
		for f := range strings.SplitSeq(raw, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if !slices.Contains(adAccountFields, f) {
				return &graphError{Message: "(#100) Tried accessing nonexisting field (" + f + ") on node type (AdAccount)",
					Type: "OAuthException", Code: 100, status: http.StatusBadRequest}
			}
			fields = append(fields, f)
		}
	}
	id := strings.TrimPrefix(c.node, "act_")
	out := map[string]any{}
	for _, f := range fields {
		switch f {
		case "id":
			out[f] = c.node
		case "account_id":
			out[f] = id
		case "name":
			out[f] = "Sandbox ad account " + id
		case "account_status":
			out[f] = 1 // ACTIVE
		case "currency":
			out[f] = "USD"
		case "timezone_name":
			out[f] = "Etc/UTC"
		case "business":
			out[f] = map[string]string{"id": "200000000000001", "name": "Sandbox business"}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// FlagAudience marks audience id as flagged for integrity restrictions
// (operation_status 471): from then on adding, removing and replacing its
// users fails with code 100, subcode 1713230, as Meta does. It reports
// whether the audience exists.
func (s *Server) FlagAudience(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.audiences.Get(id); !ok {
		return false
	}
	s.flagged[id] = true
	return true
}

// checkFlagged refuses membership changes to a flagged audience.
func (s *Server) checkFlagged(endpoint string, c *call) *graphError {
	if endpoint != "users" && endpoint != "usersreplace" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.flagged[c.node] {
		return nil
	}
	return &graphError{Message: "Invalid parameter", Type: "OAuthException", Code: 100, ErrorSubcode: 1713230,
		UserTitle: "Audience Upload Blocked",
		UserMsg: "Before updating user memberships, you must resolve integrity restrictions on this Data File Custom Audience. " +
			"Go to Audience Manager to appeal the restrictions or create a new audience with updated data",
		status: http.StatusBadRequest}
}
