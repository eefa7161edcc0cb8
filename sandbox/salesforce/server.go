// Package salesforce is a local replica of the Salesforce APIs the
// Salesforce source calls: the OAuth token endpoint (JWT bearer flow with
// the assertion's RS256 signature checked against the public key of
// package replicacreds, refresh token and client credentials flows), the
// REST query API with nextRecordsUrl paging, and Bulk API 2.0 query jobs
// (UploadComplete → InProgress → JobComplete after a configurable number
// of polls; results paged by maxRecords and locator, as CSV with
// Sforce-NumberOfRecords and Sforce-Locator).
//
// It is as strict as Salesforce where a client could go wrong: a bearer
// token on every API call (INVALID_SESSION_ID otherwise); queries it
// cannot parse, unknown objects and unknown fields answered with the JSON
// error arrays MALFORMED_QUERY, INVALID_TYPE and INVALID_FIELD; results
// before the job is complete answered 412 JOB_NOT_COMPLETE, and under
// another API version than the job's 409; Sforce-Limit-Info on every API
// answer and the org's daily request limit answered 403
// REQUEST_LIMIT_EXCEEDED. It reads the SOQL subset sources send (see
// soql.go).
//
// A fresh replica holds 30 Contacts (contact0001@example.com…) and 20
// Leads (lead0001@example.com…), three of them converted, and three
// campaigns; Reset returns to that.
package salesforce

import (
	"crypto/rsa"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/audiencesync/audiencesync/connectors/salesforce/replicacreds"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// Defaults of the replica.
const (
	// DefaultDailyLimit is the org's API requests per 24 hours.
	DefaultDailyLimit = 100_000
	// DefaultPollsBeforeDone is how many polls of a Bulk job answer it
	// not complete yet.
	DefaultPollsBeforeDone = 2
	// DefaultBatchSize is the REST query's records per page; a client may
	// ask for 200 to 2,000 with Sforce-Query-Options.
	DefaultBatchSize = 2000
	// DefaultMaxRecords is a Bulk results page's size when the client
	// names none.
	DefaultMaxRecords = 50_000
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Faults injects failures; nil injects none.
	Faults *fault.Injector
	// DailyLimit is the org's API requests a day (0: DefaultDailyLimit).
	DailyLimit int
	// PollsBeforeDone is how many polls of a Bulk job answer
	// UploadComplete or InProgress before JobComplete; negative for none
	// (0: DefaultPollsBeforeDone).
	PollsBeforeDone int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the replica; it is an http.Handler for Salesforce API paths.
type Server struct {
	opts Options
	key  *rsa.PublicKey
	// Base mounts the replica and is Save and Load, over Snapshot and
	// Restore, and Reset: back to the seeded records, forgetting
	// sessions, cursors, jobs and the day's API usage.
	wire.Base[Snapshot]
	gate wire.Gate

	mu      sync.Mutex
	data    *store
	tokens  map[string]bool
	cursors map[string]*cursor
	jobs    map[string]*job
	day     string
	used    int
	issued  int
}

// New returns a replica holding the seeded records.
func New(opts Options) *Server {
	if opts.DailyLimit <= 0 {
		opts.DailyLimit = DefaultDailyLimit
	}
	switch {
	case opts.PollsBeforeDone == 0:
		opts.PollsBeforeDone = DefaultPollsBeforeDone
	case opts.PollsBeforeDone < 0:
		opts.PollsBeforeDone = 0
	}
	opts.Now = wire.Clock(opts.Now)
	key, err := jwt.ParseRSAPublicKeyFromPEM([]byte(replicacreds.PublicKey))
	if err != nil {
		panic("salesforce replica: the public key of replicacreds does not parse: " + err.Error())
	}
	s := &Server{opts: opts, key: key}
	s.Base = wire.NewBase(mount, &s.mu, s.Snapshot, s.Restore, s.reseed)
	s.gate = wire.Gate{Platform: replicacreds.Name, Render: s, Faults: opts.Faults, TokenEndpoint: "token",
		NotFound: func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		},
		Admit: func(w http.ResponseWriter, r *http.Request, _ wire.Call) bool {
			return s.authenticate(w, r) && s.limit(w)
		}}
	return s
}

// reseed replaces the state by the seeded one; Reset calls it with s.mu
// held.
func (s *Server) reseed() {
	s.data = newStore()
	s.data.seed(s.opts.Now())
	s.tokens = map[string]bool{}
	s.cursors = map[string]*cursor{}
	s.jobs = map[string]*job{}
	s.day, s.used, s.issued = "", 0, 0
}

// apiError is one element of Salesforce's error array.
type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	wire.WriteJSON(w, status, "application/json;charset=UTF-8", v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, []apiError{{Message: msg, ErrorCode: code}})
}

// ServeHTTP handles a Salesforce API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.gate.Serve(w, r, s.route(r))
}

// authenticate checks the bearer token.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	valid := ok && s.tokens[tok]
	s.mu.Unlock()
	if !valid {
		writeError(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
	}
	return valid
}

// limit counts the request against the org's daily limit and writes
// Sforce-Limit-Info; a spent limit is answered 403.
func (s *Server) limit(w http.ResponseWriter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if day := s.opts.Now().UTC().Format(time.DateOnly); day != s.day {
		s.day, s.used = day, 0
	}
	if s.used >= s.opts.DailyLimit {
		s.limitHeaderLocked(w)
		writeError(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		return false
	}
	s.used++
	s.limitHeaderLocked(w)
	return true
}

func (s *Server) limitHeaderLocked(w http.ResponseWriter) {
	w.Header().Set("Sforce-Limit-Info", "api-usage="+strconv.Itoa(s.used)+"/"+strconv.Itoa(s.opts.DailyLimit))
}

// issueToken mints an access token.
func (s *Server) issueToken() string {
	tok := "00D000000000001!sandbox-" + wire.RandomHex(16)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = true
	s.issued++
	return tok
}

// InvalidateSessions ends every session, as an admin revoking them or a
// session timeout does: the next API call answers INVALID_SESSION_ID.
func (s *Server) InvalidateSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]bool{}
}

// Issued is how many access tokens the token endpoint has issued since
// the replica started or was reset.
func (s *Server) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// Used is the day's API request count.
func (s *Server) Used() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}
