// Package sandbox mounts local replicas of the three ad platform APIs
// audiencesync talks to — Google Data Manager (googledm), Meta Graph
// (metagraph) and X Ads (xads) — on one http.Handler, with a shared fault
// injector (fault) and an inspection API:
//
//	/v1/...                       Google Data Manager API
//	/vNN.N/...                    Meta Graph API
//	/12/accounts/...              X Ads API v12
//	GET  /_sandbox/state          audiences and member counts (?members=1 adds identifiers)
//	POST /_sandbox/reset          forget every audience and member
//	GET  /_sandbox/faults         the fault spec in force and how often each rule fired
//	POST /_sandbox/faults         replace the fault spec (body: the spec)
//
// Point every connector's endpoint at the server's base URL. The
// replicas accept only the fixed credentials returned by Credentials and
// store hashed identifiers only. Open keeps that state in a file across
// restarts (Options.StatePath); StartInProcess serves a sandbox on a free
// loopback port for `sandbox: true` connections.
package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/googledm"
	"github.com/audiencesync/audiencesync/sandbox/metagraph"
	"github.com/audiencesync/audiencesync/sandbox/xads"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Faults injects failures into every replica; nil starts with none
	// (SetFaults can add some later).
	Faults *fault.Injector
	// Latency is added to every platform request, on top of any latency
	// the fault spec sets.
	Latency time.Duration
	// GooglePollsBeforeDone is how many requestStatus:retrieve calls answer
	// PROCESSING before the final status (0: at once).
	GooglePollsBeforeDone int
	// XRateLimit is the X request budget per endpoint and account per
	// minute; 0 means 1,500.
	XRateLimit int
	// Log, when set, receives one line per request (method, path without
	// query, status, duration). Nothing secret is logged.
	Log io.Writer
	// Now is the clock of every replica; nil means time.Now.
	Now func() time.Time
	// StatePath, when set, is a JSON file the sandbox loads its state from
	// and saves it to after every change (see Open and Snapshot), so a
	// sandbox keeps its audiences across restarts. Only Open, ListenAndServe
	// and StartInProcess read it.
	StatePath string
}

// Server is the combined sandbox. It is safe for concurrent use.
type Server struct {
	opts   Options
	faults *fault.Injector
	google *googledm.Server
	meta   *metagraph.Server
	x      *xads.Server
	logMu  sync.Mutex
	store  *persister // nil without a state file
}

// New builds a sandbox with empty replicas, kept in memory only. It
// panics if opts.StatePath is set: loading a state file can fail, so use
// Open for that.
func New(opts Options) *Server {
	if opts.StatePath != "" {
		panic("sandbox: New does not read Options.StatePath; use Open")
	}
	return newServer(opts)
}

func newServer(opts Options) *Server {
	in := opts.Faults
	if in == nil {
		in = fault.MustParse("")
	}
	return &Server{
		opts:   opts,
		faults: in,
		google: googledm.New(googledm.Options{Faults: in, PollsBeforeDone: opts.GooglePollsBeforeDone, Now: opts.Now}),
		meta:   metagraph.New(metagraph.Options{Faults: in, Now: opts.Now}),
		x:      xads.New(xads.Options{Faults: in, RateLimit: opts.XRateLimit, Now: opts.Now}),
	}
}

var xPath = regexp.MustCompile(`^/[0-9]+/accounts(/|$)`)

// ServeHTTP routes to a replica or the inspection API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.Log != nil {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		defer func() {
			s.logf("%s %s %s %d %s\n", start.Format(time.RFC3339), r.Method, r.URL.Path, rec.status, time.Since(start).Round(time.Millisecond))
		}()
		w = rec
	}
	if s.store != nil && mayChangeState(r) {
		defer s.store.changed()
	}
	path := r.URL.Path
	if strings.HasPrefix(path, "/_sandbox/") {
		s.serveAdmin(w, r)
		return
	}
	if !fault.Sleep(r.Context(), s.opts.Latency) {
		return
	}
	var replica http.Handler = s.meta
	switch {
	case strings.HasPrefix(path, "/v1/"):
		replica = s.google
	case xPath.MatchString(path):
		replica = s.x
	}
	// Through fault.Serve, so a "lost" fault can apply a request and
	// drop its answer.
	fault.Serve(w, r, replica)
}

// mayChangeState reports whether r may change what the state file holds:
// every write, a Google status poll (it counts polls), and a Meta GET that
// overrides its method.
func mayChangeState(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return true
	}
	return r.URL.Path == "/v1/requestStatus:retrieve" || r.URL.Query().Has("method")
}

// logf writes a line to the request log, if there is one.
func (s *Server) logf(format string, args ...any) {
	if s.opts.Log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.opts.Log, format, args...)
}

// recorder remembers the status for the request log; Unwrap lets
// http.ResponseController reach the connection (for injected resets).
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_sandbox/state" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.State(r.URL.Query().Get("members") == "1"))
	case r.URL.Path == "/_sandbox/reset" && r.Method == http.MethodPost:
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"reset": true})
	case r.URL.Path == "/_sandbox/faults" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.State(false).Faults)
	case r.URL.Path == "/_sandbox/faults" && r.Method == http.MethodPost:
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err := s.SetFaults(string(body)); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, s.State(false).Faults)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown sandbox endpoint " + r.Method + " " + r.URL.Path})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// State is what GET /_sandbox/state returns.
type State struct {
	Google struct {
		UserLists []googledm.ListState `json:"user_lists"`
	} `json:"google"`
	Meta struct {
		Audiences []metagraph.AudienceState `json:"audiences"`
	} `json:"meta"`
	X struct {
		CustomAudiences []xads.AudienceState `json:"custom_audiences"`
	} `json:"x"`
	Faults FaultState `json:"faults"`
}

// FaultState is the fault spec in force and how often each rule fired.
type FaultState struct {
	Spec  string         `json:"spec"`
	Fired map[string]int `json:"fired"`
}

// State snapshots every replica; withMembers includes stored identifiers.
func (s *Server) State(withMembers bool) State {
	var st State
	st.Google.UserLists = s.google.State(withMembers)
	st.Meta.Audiences = s.meta.State(withMembers)
	st.X.CustomAudiences = s.x.State(withMembers)
	st.Faults = FaultState{Spec: s.faults.String(), Fired: s.faults.Fired()}
	return st
}

// Reset empties every replica (audiences, members, sessions, nonces and
// rate-limit windows). The fault spec stays.
func (s *Server) Reset() {
	s.google.Reset()
	s.meta.Reset()
	s.x.Reset()
}

// SetFaults replaces the fault spec (see package fault) and re-arms its
// scripts.
func (s *Server) SetFaults(spec string) error { return s.faults.Load(spec) }

// Google, Meta and X give tests the replicas themselves, e.g. to create
// an audience without going through the API.
func (s *Server) Google() *googledm.Server { return s.google }

// Meta returns the Meta Graph replica.
func (s *Server) Meta() *metagraph.Server { return s.meta }

// X returns the X Ads replica.
func (s *Server) X() *xads.Server { return s.x }

// GoogleMembers returns the identifiers in Google user list listID (hex
// SHA-256 for e-mail and phone; see googledm.Server.Members).
func (s *Server) GoogleMembers(listID string) []string { return s.google.Members(listID) }

// MetaMembers returns the identifiers in Meta audience id (hex SHA-256 for
// EMAIL and PHONE; see metagraph.Server.Members).
func (s *Server) MetaMembers(id string) []string { return s.meta.Members(id) }

// XMembers returns the identifiers in X custom audience id (hex SHA-256;
// see xads.Server.Members).
func (s *Server) XMembers(id string) []string { return s.x.Members(id) }
