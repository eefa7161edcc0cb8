// Package metagraph is a local replica of the Meta Graph API's customer-file
// Custom Audience endpoints: create and list audiences on an ad account,
// read one, add and remove users, and replace all users in a session; and
// the calls a connector checks its access with: debug_token (token
// validity, expiry, scopes) and reading the ad account. It
// reads requests the way Graph does (form-encoded parameters with JSON
// values, as github.com/huandu/facebook/v2 sends them; DELETE also as POST
// with method=DELETE), checks the access token and appsecret_proof, and
// answers errors in Meta's error JSON.
//
// It stores hashes only. An audience's membership is a set of identifiers:
// each hashed EMAIL and PHONE of a row as its hex digest, a MADID as
// "madid:ID", an EXTERN_ID as "extern_id:ID", and a row carrying none of
// those as "row:KEY=VALUE,..." over its non-empty cells. Removing a row
// removes the same identifiers.
package metagraph

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/platform/meta"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// defaultMinVersion is the MinVersion a zero Options means.
const defaultMinVersion = 21

// Limits enforced by the replica.
const (
	MaxRowsPerRequest = 10000
	maxBodyBytes      = 64 << 20
	replaceTimeout    = 90 * time.Minute
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Faults injects failures; nil injects none.
	Faults *fault.Injector
	// MinVersion is the oldest Graph API major version still served; older
	// or missing versions are refused. 0 means 21.
	MinVersion int
	// AllowMissingProof accepts calls without appsecret_proof (apps that
	// do not require it). A wrong proof is refused either way.
	AllowMissingProof bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the replica; it is an http.Handler for /vNN.N/ paths.
type Server struct {
	opts Options
	// Core mounts the replica, is Save, Load and Reset, and queues
	// membership changes.
	wire.Core[Snapshot]

	mu        sync.Mutex // guards what follows; Core.Changes queues under it
	audiences wire.Audiences[audience]
	flagged   map[string]bool // audiences under integrity restrictions
	nextSess  int64
	trace     int64
}

// New returns an empty replica.
func New(opts Options) *Server {
	opts.Now = wire.Clock(opts.Now)
	s := &Server{opts: opts}
	s.Core = wire.NewCore(mount, &s.mu, s.Snapshot, s.Restore, s.empty)
	return s
}

// call is one parsed Graph request.
type call struct {
	method  string // GET, POST or DELETE after method= override
	node    string // act_123 or an audience id
	edge    string // customaudiences, users, usersreplace or ""
	params  url.Values
	token   string
	inQuery bool // the token came as a parameter, not a header
}

var versionPattern = regexp.MustCompile(`^v([0-9]+)\.([0-9]+)$`)

// ServeHTTP handles a Graph API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, gerr := s.parse(r)
	if gerr != nil {
		s.writeError(w, gerr)
		return
	}
	endpoint, handler := s.route(c)
	if handler == nil {
		s.writeError(w, unsupported(c.method, c.node))
		return
	}
	if gerr := s.authenticate(c, endpoint); gerr != nil {
		s.writeError(w, gerr)
		return
	}
	if s.opts.Faults.Intercept(w, r, "meta", endpoint, s) {
		return
	}
	if gerr := s.checkFlagged(endpoint, c); gerr != nil {
		s.writeError(w, gerr)
		return
	}
	if gerr := handler(w, r, c); gerr != nil {
		s.writeError(w, gerr)
	}
}

func (s *Server) parse(r *http.Request) (*call, *graphError) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	m := versionPattern.FindStringSubmatch(parts[0])
	if m == nil {
		return nil, &graphError{Message: "(#2635) Unversioned calls are not served by the sandbox: call /" + meta.ReplicaVersion + "/... (set Session.Version).",
			Type: "OAuthException", Code: 2635, status: http.StatusBadRequest}
	}
	if major, _ := strconv.Atoi(m[1]); major < cmp.Or(s.opts.MinVersion, defaultMinVersion) {
		return nil, &graphError{Message: "(#2635) You are calling a deprecated version of the Ads API. Please update to the latest version: " + meta.ReplicaVersion + ".",
			Type: "OAuthException", Code: 2635, status: http.StatusBadRequest}
	}
	if len(parts) < 2 || len(parts) > 3 || parts[1] == "" {
		return nil, &graphError{Message: "Unknown path components: " + r.URL.Path, Type: "OAuthException", Code: 2500, status: http.StatusBadRequest}
	}
	c := &call{method: r.Method, node: parts[1]}
	if len(parts) == 3 {
		c.edge = parts[2]
	}
	params, gerr := readParams(r)
	if gerr != nil {
		return nil, gerr
	}
	c.params = params
	if override := params.Get("method"); override != "" {
		if r.Method != http.MethodPost && r.Method != http.MethodGet {
			return nil, paramError("method override is only read on POST")
		}
		c.method = strings.ToUpper(override)
	}
	switch c.method {
	case http.MethodGet, http.MethodPost, http.MethodDelete:
	default:
		return nil, unsupported(c.method, c.node)
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "OAuth") || strings.EqualFold(scheme, "Bearer") {
			c.token = strings.TrimSpace(tok)
		}
	}
	if c.token == "" {
		c.token = params.Get("access_token")
		c.inQuery = c.token != ""
	}
	return c, nil
}

// readParams merges query and body parameters. Bodies may be form-encoded,
// multipart or a JSON object (whose non-string values keep their JSON text,
// as Graph reads them).
func readParams(r *http.Request) (url.Values, *graphError) {
	params := r.URL.Query()
	if r.Body == nil || r.Method == http.MethodGet {
		return params, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded", "":
		form, gerr := readForm(r)
		if gerr != nil {
			return nil, gerr
		}
		for k, v := range form {
			params[k] = v
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxBodyBytes); err != nil {
			return nil, paramError("malformed multipart body: %v", err)
		}
		for k, v := range r.MultipartForm.Value {
			params[k] = v
		}
	case "application/json":
		var obj map[string]json.RawMessage
		if err := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes)).Decode(&obj); err != nil {
			return nil, paramError("malformed JSON body: %v", err)
		}
		for k, raw := range obj {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				params.Set(k, str)
			} else {
				params.Set(k, string(raw))
			}
		}
	default:
		return nil, paramError("unsupported Content-Type %q", ct)
	}
	return params, nil
}

func (s *Server) authenticate(c *call, endpoint string) *graphError {
	switch c.token {
	case "":
		return &graphError{Message: "An access token is required to request this resource.", Type: "OAuthException", Code: 104, status: http.StatusBadRequest}
	case meta.ReplicaExpiredToken:
		return expiredToken(s.opts.Now())
	case AppAccessToken:
		// App tokens carry the secret themselves: no proof, and they can
		// only inspect tokens here.
		if endpoint != "debug_token" {
			return &graphError{Message: "(#200) An app access token cannot manage ad accounts or audiences; use a system user or user access token",
				Type: "OAuthException", Code: 200, status: http.StatusForbidden}
		}
		return nil
	case meta.ReplicaToken, ExpiringToken:
	default:
		return tokenError(0, "Invalid OAuth access token - Cannot parse access token")
	}
	proof := c.params.Get("appsecret_proof")
	if proof == "" {
		if s.opts.AllowMissingProof {
			return nil
		}
		return &graphError{Message: "API calls from the server require an appsecret_proof argument", Type: "GraphMethodException", Code: 100, status: http.StatusBadRequest}
	}
	got, err := hex.DecodeString(proof)
	mac := hmac.New(sha256.New, []byte(meta.ReplicaAppSecret))
	mac.Write([]byte(c.token))
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return &graphError{Message: "Invalid appsecret_proof provided in the API argument", Type: "GraphMethodException", Code: 100, status: http.StatusBadRequest}
	}
	return nil
}

// AppsecretProof returns the proof for token under meta.ReplicaAppSecret.
func AppsecretProof(token string) string {
	mac := hmac.New(sha256.New, []byte(meta.ReplicaAppSecret))
	mac.Write([]byte(token))
	return hex.EncodeToString(mac.Sum(nil))
}

type handlerFunc func(http.ResponseWriter, *http.Request, *call) *graphError

var adAccountPattern = regexp.MustCompile(`^act_[0-9]{1,20}$`)
var objectIDPattern = regexp.MustCompile(`^[0-9]{1,20}$`)

// savedIDs refuses to restore an audience whose id is not an object id,
// or that names no ad account.
var savedIDs = wire.SavedIDs{Want: "a numeric id and an account_id are required",
	Valid: func(id, account string) bool { return objectIDPattern.MatchString(id) && account != "" }}

func (s *Server) route(c *call) (string, handlerFunc) {
	if c.node == "debug_token" && c.edge == "" && c.method == http.MethodGet {
		return "debug_token", s.debugToken
	}
	if adAccountPattern.MatchString(c.node) {
		if c.edge == "" && c.method == http.MethodGet {
			return "adaccount", s.readAdAccount
		}
		if c.edge != "customaudiences" {
			return "", nil
		}
		switch c.method {
		case http.MethodGet:
			return "customaudiences", s.listAudiences
		case http.MethodPost:
			return "customaudiences", s.createAudience
		}
		return "", nil
	}
	if !objectIDPattern.MatchString(c.node) {
		return "", nil
	}
	switch {
	case c.edge == "" && c.method == http.MethodGet:
		return "audience", s.readAudience
	case c.edge == "" && c.method == http.MethodPost:
		return "audience", s.updateAudience
	case c.edge == "" && c.method == http.MethodDelete:
		return "audience", s.deleteAudience
	case c.edge == "users" && c.method == http.MethodPost:
		return "users", func(w http.ResponseWriter, r *http.Request, c *call) *graphError { return s.users(w, r, c, true) }
	case c.edge == "users" && c.method == http.MethodDelete:
		return "users", func(w http.ResponseWriter, r *http.Request, c *call) *graphError { return s.users(w, r, c, false) }
	case c.edge == "usersreplace" && c.method == http.MethodPost:
		return "usersreplace", s.usersReplace
	}
	return "", nil
}

// businessOf names the ad account a request concerns, for usage headers.
func (s *Server) businessOf(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		return "0"
	}
	if id, ok := strings.CutPrefix(parts[1], "act_"); ok {
		return id
	}
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	if a, ok := s.audiences.Get(parts[1]); ok {
		return a.Account
	}
	return "0"
}

// checkParams refuses parameters an endpoint does not take, so a typo is
// an error rather than silently ignored.
func checkParams(params url.Values, allowed ...string) *graphError {
	for k := range params {
		switch k {
		case "access_token", "appsecret_proof", "format", "method", "pretty", "suppress_http_code",
			"debug", "date_format", "locale", "include_headers":
			continue
		}
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			return paramError("Param %s is not a valid parameter for this call", k)
		}
	}
	return nil
}

// AudienceState describes one audience for inspection.
type AudienceState struct {
	wire.Listed
	wire.Membership
	Replacing bool `json:"replace_in_progress,omitempty"`
}

// State lists every audience with its member count; withMembers includes
// the stored identifiers.
func (s *Server) State(withMembers bool) []AudienceState {
	return wire.Listing(s.Changes.Settled(), &s.audiences, func(_ string, a *audience) AudienceState {
		return AudienceState{Listed: a.Listed(), Membership: wire.Inspect(withMembers, a.Members), Replacing: a.replace != nil}
	})
}

// Members returns the identifiers of audience id, sorted (see the package
// documentation for their form); nil if there is no such audience.
func (s *Server) Members(id string) []string {
	return wire.MembersOf(s.Changes.Settled(), &s.audiences, id, func(a *audience) wire.Set { return a.Members })
}
