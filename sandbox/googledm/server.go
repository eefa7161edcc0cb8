// Package googledm is a local replica of the Google Data Manager API's
// Customer Match surface: audience member ingest, removal and remove-all,
// request status, and user lists. It speaks the same JSON as
// google.golang.org/api/datamanager/v1, enforces the same limits, and
// answers errors in Google's error shape, so a client that works against
// it works against datamanager.googleapis.com.
//
// It stores hashes only. Membership is kept per user list as a set of
// identifiers: a hashed e-mail or phone number, a mobile id, or an address
// (hashed given and family name, clear region and postal code). Removal
// removes the identifiers given. Changes are applied right after the
// request is answered, in order, and before anything reads membership (see
// wire.Queue); requestStatus reports PROCESSING for a configurable number
// of polls first, as the real API processes asynchronously.
package googledm

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// defaultMatchThreshold is the MatchThreshold a zero Options means.
const defaultMatchThreshold = 0xB3

// Limits of the Data Manager API enforced by the replica.
const (
	MaxMembersPerRequest     = 10000
	MaxIdentifiersPerMember  = 10
	MaxMembershipDurationDay = 540
	maxBodyBytes             = 64 << 20
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Faults injects failures; nil injects none.
	Faults *fault.Injector
	// PollsBeforeDone is how many requestStatus:retrieve calls for a request
	// answer PROCESSING before the final status. 0 answers it at once.
	PollsBeforeDone int
	// MatchThreshold decides the simulated match rate: a hashed identifier
	// "matches" when its first byte is below it. 0 means 0xB3 (about 70%).
	MatchThreshold byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the replica; it is an http.Handler for paths under /v1/.
type Server struct {
	opts Options
	// Core mounts the replica, is Save, Load and Reset, and queues
	// membership changes.
	wire.Core[Snapshot]

	mu       sync.Mutex           // guards what follows; Core.Changes queues under it
	lists    wire.Audiences[list] // by user list id, in creation order
	requests map[string]*requestRecord
	nextReq  int64
}

type list struct {
	account string
	res     userList
	members wire.Set
	created time.Time
}

// New returns an empty replica.
func New(opts Options) *Server {
	opts.Now = wire.Clock(opts.Now)
	s := &Server{opts: opts}
	s.Core = wire.NewCore(mount, &s.mu, s.Snapshot, s.Restore, s.empty)
	return s
}

// ServeHTTP routes a Data Manager API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint, handler := s.route(r)
	if handler == nil {
		writeError(w, notFound("The requested URL %s was not found on this server.", r.URL.Path))
		return
	}
	if err := authenticate(r); err != nil {
		writeError(w, err)
		return
	}
	if s.opts.Faults.Intercept(w, r, "google", endpoint, s) {
		return
	}
	if err := handler(w, r); err != nil {
		writeError(w, err)
	}
}

type handlerFunc func(http.ResponseWriter, *http.Request) *apiError

func (s *Server) route(r *http.Request) (string, handlerFunc) {
	path := r.URL.Path
	switch {
	case path == "/v1/audienceMembers:ingest" && r.Method == http.MethodPost:
		return "ingest", s.handleIngest
	case path == "/v1/audienceMembers:remove" && r.Method == http.MethodPost:
		return "remove", s.handleRemove
	case path == "/v1/audienceMembers:removeAll" && r.Method == http.MethodPost:
		return "removeall", s.handleRemoveAll
	case path == "/v1/requestStatus:retrieve" && r.Method == http.MethodGet:
		return "requeststatus", s.handleStatus
	}
	// v1/accountTypes/{type}/accounts/{id}/userLists[/{listId}]
	parts := strings.Split(strings.TrimPrefix(path, "/v1/"), "/")
	if len(parts) < 5 || len(parts) > 6 || parts[0] != "accountTypes" || parts[2] != "accounts" || parts[4] != "userLists" {
		return "", nil
	}
	ref := listRef{accountType: parts[1], account: parts[3]}
	if len(parts) == 5 {
		switch r.Method {
		case http.MethodPost:
			return "userlists", func(w http.ResponseWriter, r *http.Request) *apiError { return s.createList(w, r, ref) }
		case http.MethodGet:
			return "userlists", func(w http.ResponseWriter, r *http.Request) *apiError { return s.listLists(w, r, ref) }
		}
		return "", nil
	}
	ref.id = parts[5]
	switch r.Method {
	case http.MethodGet:
		return "userlists", func(w http.ResponseWriter, r *http.Request) *apiError { return s.getList(w, r, ref) }
	case http.MethodPatch:
		return "userlists", func(w http.ResponseWriter, r *http.Request) *apiError { return s.patchList(w, r, ref) }
	case http.MethodDelete:
		return "userlists", func(w http.ResponseWriter, r *http.Request) *apiError { return s.deleteList(w, r, ref) }
	}
	return "", nil
}

// authenticate accepts the token as a Bearer header or an access_token
// query parameter, as Google front ends do.
func authenticate(r *http.Request) *apiError {
	token := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, value, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED",
				"Request had invalid authentication credentials. Expected OAuth 2 access token in an 'Authorization: Bearer' header.")
		}
		token = strings.TrimSpace(value)
	} else {
		token = r.URL.Query().Get("access_token")
	}
	switch token {
	case google.ReplicaToken:
		return nil
	case "":
		return unauthenticated("CREDENTIALS_MISSING",
			"Request is missing required authentication credential. Expected OAuth 2 access token.")
	case google.ReplicaExpiredToken:
		return unauthenticated("ACCESS_TOKEN_EXPIRED",
			"Request had invalid authentication credentials: the access token has expired. Refresh it and retry.")
	}
	return unauthenticated("ACCESS_TOKEN_INVALID",
		"Request had invalid authentication credentials. Expected OAuth 2 access token.")
}
