// Package linkedindmp is a local replica of the LinkedIn Marketing API's
// Matched Audiences endpoints: read an ad account, create, find and read
// DMP segments of users, add and remove their users in Rest.li batches,
// and the OAuth 2 token endpoint that exchanges a refresh token for an
// access token.
//
// Every API call must carry a bearer access token the replica issued (or
// its fixed one), X-Restli-Protocol-Version: 2.0.0 and an active monthly
// LinkedIn-Version (YYYYMM); a users batch also X-RestLi-Method:
// BATCH_CREATE. Errors come in LinkedIn's shape, {"status",
// "serviceErrorCode", "code", "message"}, and a batch answers each
// element on its own ({"status": 201} or an error), applying the valid
// ones. The users endpoint allows RateLimit requests per access token and
// window, then answers 429.
//
// A new segment can be BUILDING; it turns READY once it has been read
// Options.PollsBeforeReady times (none by default), as a segment becomes
// available some seconds after it is created. Whether LinkedIn refuses users sent to a segment
// that is still BUILDING is not documented, so the replica accepts them.
//
// It stores hashes only: a segment's membership is a set of identifiers,
// each SHA256_EMAIL as its hex digest, each SHA512_EMAIL likewise, and
// each GOOGLE_AID as "GOOGLE_AID:id". Counts are of people, as in the
// other replicas: an element of a users batch is one person known by its
// first id, matched when that id matches (see matches).
package linkedindmp

import (
	"cmp"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/platform/linkedin"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// Limits of the API enforced by the replica.
const (
	// MaxElements is the most elements a users batch may hold. LinkedIn
	// does not document its limit; 5,000 is the larger reading found, so
	// a client keeping to less is accepted either way.
	MaxElements = 5000
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes = 10 << 20
	// DefaultRateLimit is users requests per access token and window:
	// LinkedIn allows an application 500 a minute per member.
	DefaultRateLimit  = 500
	DefaultRateWindow = time.Minute
	// DefaultPollsBeforeReady is how often a new segment is read before
	// it is READY: none, so that a `sandbox: true` run does not wait
	// seconds on a segment it just created; tests that exercise the wait
	// set Options.PollsBeforeReady.
	DefaultPollsBeforeReady = 0
	// TokenLifetime is how long an access token the token endpoint issues
	// lasts (LinkedIn's are valid for 60 days).
	TokenLifetime = 60 * 24 * time.Hour
	// OldestVersion is the oldest LinkedIn-Version the replica serves;
	// LinkedIn retires a version about a year after it ships, and the
	// replica also refuses one later than its clock's month.
	OldestVersion = "202401"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Faults injects failures; nil injects none.
	Faults *fault.Injector
	// RateLimit is the users requests allowed per access token and
	// window; 0 means DefaultRateLimit.
	RateLimit int
	// RateWindow is the rate-limit window; 0 means DefaultRateWindow.
	RateWindow time.Duration
	// PollsBeforeReady is how many reads of a new segment answer
	// BUILDING; 0 or negative means none (DefaultPollsBeforeReady).
	PollsBeforeReady int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	o.RateLimit = cmp.Or(o.RateLimit, DefaultRateLimit)
	o.RateWindow = cmp.Or(o.RateWindow, DefaultRateWindow)
	o.PollsBeforeReady = max(o.PollsBeforeReady, DefaultPollsBeforeReady)
	o.Now = wire.Clock(o.Now)
	return o
}

// Server is the replica; it is an http.Handler for /rest/ and the token
// endpoint.
type Server struct {
	opts Options
	// Base mounts the replica and is Save and Load, over Snapshot and
	// Restore, and Reset.
	wire.Base[Snapshot]
	// windows are the users endpoint's rate-limit windows, per access
	// token.
	windows wire.Windows

	mu       sync.Mutex
	tokens   map[string]time.Time // issued access token -> expiry
	issued   int64
	segments wire.Audiences[segment]
}

// New returns an empty replica.
func New(opts Options) *Server {
	s := &Server{opts: opts.withDefaults()}
	s.Base = wire.NewBase(mount, &s.mu, s.Snapshot, s.Restore, s.empty)
	return s
}

// empty forgets segments, issued tokens and rate-limit windows; s.mu is
// held.
func (s *Server) empty() {
	s.tokens = map[string]time.Time{}
	s.windows.Clear()
	// Segment ids are numbers, as LinkedIn's are.
	s.segments = wire.NewAudiences[segment](30_000_000, 10)
}

// tokenPath is where the token endpoint is served: LinkedIn serves it on
// www.linkedin.com, the replica beside the API.
const tokenPath = "/oauth/v2/accessToken"

// request is one routed API call.
type request struct {
	endpoint string // fault endpoint name
	account  string // from the path (adAccounts/{id})
	segment  string // from the path (dmpSegments/{id})
	token    string
	body     []byte
}

type handlerFunc func(http.ResponseWriter, *http.Request, *request) *apiError

var (
	numberPattern  = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)
	versionPattern = regexp.MustCompile(`^20[0-9]{2}(0[1-9]|1[0-2])$`)
	// savedIDs refuses to restore a segment the paths could not name.
	savedIDs = wire.SavedIDs{Want: "a numeric id and account_id are required", Valid: func(id, account string) bool {
		return numberPattern.MatchString(id) && numberPattern.MatchString(account)
	}}
)

// ServeHTTP handles an API or token call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == tokenPath {
		s.serveToken(w, r)
		return
	}
	handler, req := s.route(r)
	if handler == nil {
		writeError(w, newError(http.StatusNotFound, 0, "NOT_FOUND", "No resource found for "+r.Method+" "+r.URL.Path))
		return
	}
	if aerr := s.authenticate(r, req); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := s.checkHeaders(r, req); aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr := readBody(r, req); aerr != nil {
		writeError(w, aerr)
		return
	}
	if req.endpoint == "users" && !s.rateLimit(req.token) {
		writeError(w, newError(http.StatusTooManyRequests, 101, "TOO_MANY_REQUESTS",
			"Resource level throttle APPLICATION MEMBER limit for calls to this resource is reached."))
		return
	}
	if s.opts.Faults.Intercept(w, r, linkedin.Name, req.endpoint, s) {
		return
	}
	if aerr := handler(w, r, req); aerr != nil {
		writeError(w, aerr)
	}
}

func (s *Server) route(r *http.Request) (handlerFunc, *request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	req := &request{}
	if len(parts) < 2 || parts[0] != "rest" {
		return nil, req
	}
	switch {
	case len(parts) == 3 && parts[1] == "adAccounts" && numberPattern.MatchString(parts[2]) && r.Method == http.MethodGet:
		req.endpoint, req.account = "accounts", parts[2]
		return s.getAccount, req
	case len(parts) == 2 && parts[1] == "dmpSegments":
		req.endpoint = "segments"
		switch r.Method {
		case http.MethodGet:
			return s.findSegments, req
		case http.MethodPost:
			return s.createSegment, req
		}
	case len(parts) >= 3 && parts[1] == "dmpSegments" && numberPattern.MatchString(parts[2]):
		req.segment = parts[2]
		switch {
		case len(parts) == 3 && r.Method == http.MethodGet:
			req.endpoint = "segments"
			return s.getSegment, req
		case len(parts) == 3 && r.Method == http.MethodDelete:
			req.endpoint = "segments"
			return s.deleteSegment, req
		case len(parts) == 4 && parts[3] == "users" && r.Method == http.MethodPost:
			req.endpoint = "users"
			return s.users, req
		}
	}
	return nil, req
}

// authenticate checks the bearer token: the fixed one, or one the token
// endpoint issued that has not expired.
func (s *Server) authenticate(r *http.Request, req *request) *apiError {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return unauthorized(65600, "INVALID_ACCESS_TOKEN", "Invalid access token: send Authorization: Bearer ACCESS_TOKEN")
	}
	req.token = token
	switch token {
	case linkedin.ReplicaAccessToken:
		return nil
	case linkedin.ReplicaRevokedToken:
		return unauthorized(65602, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user")
	}
	s.mu.Lock()
	expiry, known := s.tokens[token]
	s.mu.Unlock()
	switch {
	case !known:
		return unauthorized(65600, "INVALID_ACCESS_TOKEN", "Invalid access token")
	case !s.opts.Now().Before(expiry):
		return unauthorized(65601, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
	}
	return nil
}

// checkHeaders refuses a call without the Rest.li protocol version or an
// active LinkedIn-Version, and a users batch without its method header.
func (s *Server) checkHeaders(r *http.Request, req *request) *apiError {
	if v := r.Header.Get("X-Restli-Protocol-Version"); v != "2.0.0" {
		return newError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT",
			"X-Restli-Protocol-Version must be 2.0.0 for the versioned APIs, got "+quote(v))
	}
	v := r.Header.Get("LinkedIn-Version")
	switch {
	case v == "":
		return newError(http.StatusBadRequest, 0, "VERSION_MISSING", "A version must be present. Please specify a version by adding the LinkedIn-Version header.")
	case !versionPattern.MatchString(v) || v < OldestVersion || v > s.opts.Now().UTC().Format("200601"):
		return newError(http.StatusUpgradeRequired, 0, "NONEXISTENT_VERSION", "Requested version "+quote(v)+" is not active")
	}
	if req.endpoint == "users" && r.Header.Get("X-RestLi-Method") != "BATCH_CREATE" {
		return newError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT",
			"a batch of users needs X-RestLi-Method: BATCH_CREATE")
	}
	return nil
}

func quote(v string) string { return `"` + v + `"` }

// readBody reads a POST's JSON body into req.body.
func readBody(r *http.Request, req *request) *apiError {
	if r.Method != http.MethodPost {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return newError(http.StatusUnsupportedMediaType, 0, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json, got "+quote(ct))
	}
	var b strings.Builder
	if err := wire.ReadBody(&b, r, MaxBodyBytes); err != nil {
		if err == wire.ErrBodyTooLarge {
			return newError(http.StatusRequestEntityTooLarge, 0, "REQUEST_TOO_LARGE", "The request body is larger than 10 MiB; send fewer elements per batch.")
		}
		return newError(http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "The request body could not be read.")
	}
	req.body = []byte(b.String())
	return nil
}

// rateLimit counts a users request against its token's window and
// reports whether it is within budget. LinkedIn documents no header
// saying when a window resets, so the replica sends none.
func (s *Server) rateLimit(token string) bool {
	allowed, _, _ := s.windows.Take(token, s.opts.Now(), s.opts.RateLimit, s.opts.RateWindow)
	return allowed
}
