// Package hubspot is a local replica of the HubSpot APIs the HubSpot
// source reads: Lists v3 (a list by id, by name, search, the legacy id
// mapping, memberships paged with after cursors, adding and removing
// members of MANUAL and SNAPSHOT lists), contacts (batch read, answering
// 207 for ids it does not have; create, update, archive) and the OAuth
// token endpoint. Every Lists v3 path is also served under its
// date-versioned twin, /crm/lists/2026-03/….
//
// It is as strict as HubSpot where a client could go wrong: at most 250
// memberships a page and 100 inputs a batch read; a bearer token on every
// call (the private-app token of package replicacreds, or an access token
// its token endpoint issued, which expires); the rolling 10-second limit
// (190 requests for the private app, 110 for OAuth) and the private app's
// daily limit, with the X-HubSpot-RateLimit-* headers on every answer and
// 429 bodies naming the policy (TEN_SECONDLY_ROLLING, DAILY); search at 5
// requests a second, without rate-limit headers.
//
// A fresh replica holds 60 synthetic contacts (user0001@example.com…,
// +1 202 555 01xx) in three contact lists of each processing type and a
// company list; Reset returns to that. Archiving a contact leaves it in
// its lists, as HubSpot does until a list is reprocessed, so a batch read
// then answers 207 for it.
package hubspot

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/connectors/hubspot/replicacreds"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// Limits HubSpot enforces, and the replica's defaults.
const (
	MaxMembershipPage = 250
	MaxBatchRead      = 100
	// DefaultRateLimit is a Professional private app's requests per
	// window; DefaultOAuthRateLimit a public app's per installing account.
	DefaultRateLimit      = 190
	DefaultOAuthRateLimit = 110
	DefaultWindow         = 10 * time.Second
	DefaultDailyLimit     = 650_000
	// SearchPerSecond is the search endpoints' own limit.
	SearchPerSecond = 5
	// TokenLifetime is how long an issued OAuth access token lasts.
	TokenLifetime = 30 * time.Minute
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Faults injects failures; nil injects none.
	Faults *fault.Injector
	// RateLimit is the private app's requests per rolling window (0:
	// DefaultRateLimit); OAuthRateLimit an OAuth app's (0:
	// DefaultOAuthRateLimit).
	RateLimit, OAuthRateLimit int
	// Window is the rolling window (0: DefaultWindow). Benchmarks shorten
	// it to read a large list in less time at the same limit.
	Window time.Duration
	// DailyLimit is the private app's requests per day (0:
	// DefaultDailyLimit).
	DailyLimit int
	// TokenLifetime is how long issued access tokens last (0:
	// TokenLifetime).
	TokenLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the replica; it is an http.Handler for HubSpot API paths.
type Server struct {
	opts Options
	// Base mounts the replica and is Save and Load, over Snapshot and
	// Restore, and Reset: back to the seeded contacts and lists,
	// forgetting issued tokens and rate-limit windows.
	wire.Base[Snapshot]
	gate wire.Gate

	mu   sync.Mutex
	data store
	// tokens are the issued OAuth access tokens and their expiry.
	tokens map[string]time.Time
	// windows hold, per app, the times of the requests in the rolling
	// window, oldest first; search its own one-second window.
	windows map[string][]time.Time
	search  []time.Time
	day     string
	daily   int
}

// New returns a replica holding the seeded contacts and lists.
func New(opts Options) *Server {
	// Zero, or a negative value, means the default.
	opts.RateLimit = cmp.Or(max(opts.RateLimit, 0), DefaultRateLimit)
	opts.OAuthRateLimit = cmp.Or(max(opts.OAuthRateLimit, 0), DefaultOAuthRateLimit)
	opts.DailyLimit = cmp.Or(max(opts.DailyLimit, 0), DefaultDailyLimit)
	opts.Window = cmp.Or(max(opts.Window, 0), DefaultWindow)
	opts.TokenLifetime = cmp.Or(max(opts.TokenLifetime, 0), TokenLifetime)
	opts.Now = wire.Clock(opts.Now)
	s := &Server{opts: opts}
	s.Base = wire.NewBase(mount, &s.mu, s.Snapshot, s.Restore, s.reseed)
	s.gate = wire.Gate{Platform: replicacreds.Name, Render: s, Faults: opts.Faults, TokenEndpoint: "token",
		NotFound: func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "", "Unable to route "+r.Method+" "+r.URL.Path+".")
		},
		Admit: s.admit}
	return s
}

// reseed replaces the state by the seeded one; Reset calls it with s.mu
// held.
func (s *Server) reseed() {
	s.data = *newStore()
	s.data.seed(s.opts.Now())
	s.tokens = map[string]time.Time{}
	s.windows = map[string][]time.Time{}
	s.search = nil
	s.day, s.daily = "", 0
}

// caller is who a request authenticated as.
type caller struct {
	app     string // "private" or "oauth"
	limit   int
	private bool
}

// ServeHTTP handles a HubSpot API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.gate.Serve(w, r, s.route(r))
}

// admit authenticates a call and counts it against the caller's limits.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, c wire.Call) bool {
	who, ok := s.authenticate(w, r)
	return ok && s.limit(w, who, c.Endpoint == "search")
}

// authenticate checks the bearer token.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (caller, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		writeError(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION",
			"Authentication credentials not found. This API supports OAuth 2.0 authentication and private app access tokens.")
		return caller{}, false
	}
	if tok == replicacreds.AccessToken {
		return caller{app: "private", limit: s.opts.RateLimit, private: true}, true
	}
	s.mu.Lock()
	exp, issued := s.tokens[tok]
	s.mu.Unlock()
	switch {
	case issued && s.opts.Now().Before(exp):
		return caller{app: "oauth", limit: s.opts.OAuthRateLimit}, true
	case issued:
		writeError(w, http.StatusUnauthorized, "EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired.")
	default:
		writeError(w, http.StatusUnauthorized, "INVALID_AUTHENTICATION", "The access token is not valid: it may have been revoked.")
	}
	return caller{}, false
}

// limit counts the request against the caller's rolling window (search:
// its own one-second window) and the daily limit, writes the rate-limit
// headers, and answers 429 when a limit is spent.
func (s *Server) limit(w http.ResponseWriter, c caller, search bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	if day := now.UTC().Format(time.DateOnly); day != s.day {
		s.day, s.daily = day, 0
	}
	if c.private && s.daily >= s.opts.DailyLimit {
		s.headersLocked(w, c, 0)
		writeRateLimit(w, "DAILY", "You have reached your daily limit.")
		return false
	}
	if search {
		s.search = within(s.search, now, time.Second)
		if len(s.search) >= SearchPerSecond {
			writeRateLimit(w, "SECONDLY", "You have reached your secondly limit.")
			return false
		}
		s.search = append(s.search, now)
		s.countDailyLocked(c)
		return true
	}
	win := within(s.windows[c.app], now, s.opts.Window)
	if len(win) >= c.limit {
		s.windows[c.app] = win
		s.headersLocked(w, c, 0)
		writeRateLimit(w, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
		return false
	}
	win = append(win, now)
	s.windows[c.app] = win
	s.countDailyLocked(c)
	s.headersLocked(w, c, c.limit-len(win))
	return true
}

func (s *Server) countDailyLocked(c caller) {
	if c.private {
		s.daily++
	}
}

// headersLocked writes the rate-limit headers; OAuth answers carry no
// daily figures.
func (s *Server) headersLocked(w http.ResponseWriter, c caller, remaining int) {
	h := w.Header()
	h.Set("X-HubSpot-RateLimit-Max", strconv.Itoa(c.limit))
	h.Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(max(remaining, 0)))
	h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(s.opts.Window.Milliseconds(), 10))
	if c.private {
		h.Set("X-HubSpot-RateLimit-Daily", strconv.Itoa(s.opts.DailyLimit))
		h.Set("X-HubSpot-RateLimit-Daily-Remaining", strconv.Itoa(max(s.opts.DailyLimit-s.daily, 0)))
	}
}

// within drops the times that fell out of the window ending now.
func within(times []time.Time, now time.Time, window time.Duration) []time.Time {
	cut := now.Add(-window)
	i := 0
	for i < len(times) && !times[i].After(cut) {
		i++
	}
	return times[i:]
}

// issueToken mints an OAuth access token.
func (s *Server) issueToken() (string, int) {
	tok := "sandbox-hubspot-oauth-" + wire.RandomHex(16)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenLifetime)
	return tok, int(s.opts.TokenLifetime / time.Second)
}

// ExpireTokens makes every issued access token expired, as if its
// lifetime had passed, for tests of refreshing.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok := range s.tokens {
		s.tokens[tok] = time.Time{}
	}
}

// Issued is how many OAuth access tokens the token endpoint has issued
// since the replica started or was reset.
func (s *Server) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}
