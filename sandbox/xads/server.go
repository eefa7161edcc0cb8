// Package xads is a local replica of the X Ads API v12 custom audience
// endpoints: read an ad account, create and list custom audiences, and
// add or remove users with the batched users endpoint. Every request must
// carry a valid OAuth 1.0a (HMAC-SHA1) user-context signature over its
// method, URL, query and form parameters, with a fresh nonce and a
// timestamp close to the server clock, as github.com/dghubble/oauth1
// produces. Responses carry x-rate-limit-* headers and a request runs into
// 429 once its window's budget is spent.
//
// It stores hashes only. An audience's membership is a set of identifiers:
// each hashed email, phone_number, handle, twitter_id and device_id as its
// hex digest, and each partner_user_id as "partner_user_id:ID".
package xads

import (
	"cmp"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// Limits of the Ads API enforced by the replica.
const (
	MaxOperations = 2500
	MaxBodyBytes  = 5_000_000
	// DefaultRateLimit is requests per endpoint and account per window.
	DefaultRateLimit  = 1500
	DefaultRateWindow = time.Minute
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Faults injects failures; nil injects none.
	Faults *fault.Injector
	// RateLimit is the request budget per endpoint, account and window;
	// 0 means DefaultRateLimit.
	RateLimit int
	// RateWindow is the rate-limit window; 0 means DefaultRateWindow.
	RateWindow time.Duration
	// MaxClockSkew is how far oauth_timestamp may be from the server
	// clock; 0 means 5 minutes.
	MaxClockSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the replica; it is an http.Handler for /12/ paths.
type Server struct {
	opts Options
	// Base mounts the replica and is Save and Load, over Snapshot and
	// Restore, and Reset.
	wire.Base[Snapshot]
	// windows are the rate-limit windows, per endpoint and account.
	windows wire.Windows

	mu        sync.Mutex
	nonces    map[string]time.Time
	audiences wire.Audiences[audience]
}

// New returns an empty replica.
func New(opts Options) *Server {
	s := &Server{opts: opts.withDefaults()}
	s.Base = wire.NewBase(mount, &s.mu, s.Snapshot, s.Restore, s.empty)
	return s
}

// withDefaults sets the rate limit, its window, the clock skew allowed
// and the clock when left zero.
func (o Options) withDefaults() Options {
	o.RateLimit = cmp.Or(o.RateLimit, DefaultRateLimit)
	o.RateWindow = cmp.Or(o.RateWindow, DefaultRateWindow)
	o.MaxClockSkew = cmp.Or(o.MaxClockSkew, 5*time.Minute)
	o.Now = wire.Clock(o.Now)
	return o
}

// empty forgets audiences, used nonces and rate-limit windows; s.mu is
// held.
func (s *Server) empty() {
	s.nonces = map[string]time.Time{}
	s.windows.Clear()
	// Ids are base 36, as X's are.
	s.audiences = wire.NewAudiences[audience](1_500_000, 36)
}

// request is one routed call.
type request struct {
	account  string
	audience string
	form     url.Values // query and form parameters
	body     []byte     // a JSON body, for the users endpoint
	params   map[string]string
}

// onlyParams refuses parameters the endpoint does not take.
func (req *request) onlyParams(allowed ...string) *apiError {
	for k := range req.form {
		if !slices.Contains(allowed, k) {
			return invalidParam(k, "Unknown parameter "+k+".")
		}
	}
	return nil
}

type handlerFunc func(http.ResponseWriter, *http.Request, *request) *apiError

var (
	accountPattern = regexp.MustCompile(`^[0-9a-z]{1,32}$`)
	idPattern      = regexp.MustCompile(`^[0-9a-z]{1,32}$`)
	// savedIDs refuses to restore an audience the paths could not name.
	savedIDs = wire.SavedIDs{Want: "an id and an account_id of lowercase letters and digits are required",
		Valid: func(id, account string) bool { return idPattern.MatchString(id) && accountPattern.MatchString(account) }}
)

// ServeHTTP handles an Ads API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint, handler, req := s.route(r)
	if handler == nil {
		writeError(w, notFound("The requested resource could not be found: "+r.Method+" "+r.URL.Path), nil)
		return
	}
	signed, aerr := readBody(r, endpoint == "users", req)
	if aerr != nil {
		writeError(w, aerr, req.params)
		return
	}
	if aerr := s.verify(r, signed); aerr != nil {
		writeError(w, aerr, req.params)
		return
	}
	if !s.rateLimit(w, req.account, endpoint) {
		writeError(w, newError(http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Rate limit exceeded"), req.params)
		return
	}
	if s.opts.Faults.Intercept(w, r, "x", endpoint, s) {
		return
	}
	if aerr := handler(w, r, req); aerr != nil {
		writeError(w, aerr, req.params)
	}
}

func (s *Server) route(r *http.Request) (string, handlerFunc, *request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	req := &request{params: map[string]string{}}
	if len(parts) < 3 || parts[0] != "12" || parts[1] != "accounts" || !accountPattern.MatchString(parts[2]) {
		return "", nil, req
	}
	req.account = parts[2]
	req.params["account_id"] = req.account
	switch {
	case len(parts) == 3 && r.Method == http.MethodGet:
		return "accounts", s.getAccount, req
	case len(parts) == 4 && parts[3] == "custom_audiences":
		switch r.Method {
		case http.MethodGet:
			return "custom_audiences", s.listAudiences, req
		case http.MethodPost:
			return "custom_audiences", s.createAudience, req
		}
	case len(parts) >= 5 && parts[3] == "custom_audiences" && idPattern.MatchString(parts[4]):
		req.audience = parts[4]
		req.params["custom_audience_id"] = req.audience
		switch {
		case len(parts) == 5 && r.Method == http.MethodGet:
			return "custom_audiences", s.getAudience, req
		case len(parts) == 5 && r.Method == http.MethodDelete:
			return "custom_audiences", s.deleteAudience, req
		case len(parts) == 6 && parts[5] == "users" && r.Method == http.MethodPost:
			return "users", s.users, req
		}
	}
	return "", nil, req
}

// readBody reads the body once: a form or JSON object into req.form with
// the query parameters, or, for the users endpoint, the raw JSON array
// into req.body. It returns the form-encoded body parameters, which (unlike
// a JSON body) take part in the OAuth signature.
func readBody(r *http.Request, users bool, req *request) (signed url.Values, aerr *apiError) {
	params := r.URL.Query()
	req.form = params
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, invalidParam("", "The request body could not be read.")
	}
	if len(body) > MaxBodyBytes {
		return nil, newError(http.StatusRequestEntityTooLarge, "REQUEST_ENTITY_TOO_LARGE",
			"The request body is larger than 5,000,000 bytes; send fewer operations per request.")
	}
	if len(body) == 0 {
		return nil, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case users:
		if ct != "application/json" {
			return nil, invalidParam("", "The users endpoint takes a JSON array with Content-Type: application/json.")
		}
		req.body = body
	case ct == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, invalidParam("", "The form body is malformed.")
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
		return form, nil
	case ct == "application/json":
		obj, aerr := jsonParams(body)
		if aerr != nil {
			return nil, aerr
		}
		for k, v := range obj {
			params.Set(k, v)
		}
	default:
		return nil, invalidParam("", "Unsupported Content-Type "+ct+".")
	}
	return nil, nil
}

// AudienceState describes one custom audience for inspection.
type AudienceState struct {
	wire.Listed
	Deleted bool `json:"deleted,omitempty"`
	wire.Membership
}

// State lists every custom audience with its member count; withMembers
// includes the stored identifiers.
func (s *Server) State(withMembers bool) []AudienceState {
	return wire.Listing(&s.mu, &s.audiences, func(_ string, a *audience) AudienceState {
		return AudienceState{Listed: a.Listed(), Deleted: a.deleted, Membership: wire.Inspect(withMembers, a.Members)}
	})
}

// Members returns the identifiers of custom audience id, sorted (see the
// package documentation for their form); nil if there is no such audience.
func (s *Server) Members(id string) []string {
	return wire.MembersOf(&s.mu, &s.audiences, id, func(a *audience) wire.Set { return a.Members })
}
