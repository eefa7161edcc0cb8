// Package sandbox mounts local replicas of the platform APIs audiencesync
// talks to on one http.Handler, with a shared fault injector (fault) and an
// inspection API. A replica is a Replica; Builtin lists those of the
// built-in platforms — Google Data Manager (googledm), Meta Graph
// (metagraph), X Ads (xads), LinkedIn's Marketing API (linkedindmp) and
// Mailchimp's Marketing API (mailchimp) — and of the HubSpot (hubspot) and
// Salesforce (salesforce) CRMs, which sources read:
//
//	/v1/...                       Google Data Manager API
//	/vNN.N/...                    Meta Graph API
//	/12/accounts/...              X Ads API v12
//	/rest/..., /oauth/v2/...      LinkedIn DMP segments and OAuth 2
//	/3.0/...                      Mailchimp lists, tags and members
//	/crm/..., /oauth/...          HubSpot Lists v3, contacts and OAuth
//	/services/...                 Salesforce OAuth, REST query, Bulk 2.0 query jobs
//	GET  /_sandbox/state          audiences and member counts per platform (?members=1 adds identifiers)
//	POST /_sandbox/reset          forget every audience and member
//	GET  /_sandbox/faults         the fault spec in force and how often each rule fired
//	POST /_sandbox/faults         replace the fault spec (body: the spec)
//
// Point every connector's endpoint at the server's base URL. The
// replicas accept only the fixed credentials their platform packages
// declare (platform/google, platform/meta, platform/x) and store hashed
// identifiers only. Open keeps that state in a file across
// restarts (Options.StatePath); StartInProcess serves a sandbox on a free
// loopback port for `sandbox: true` connections.
package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/fault"
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
	// Replicas are the replicas to serve; nil means Builtin().
	Replicas []NewReplica
}

// Server is the combined sandbox. It is safe for concurrent use.
type Server struct {
	opts     Options
	faults   *fault.Injector
	replicas []Replica
	logMu    sync.Mutex
	store    *persister // nil without a state file
}

// New builds a sandbox with empty replicas, kept in memory only. It
// panics if opts.StatePath is set (loading a state file can fail, so use
// Open for that), or if opts.Faults targets a platform or endpoint no
// replica has.
func New(opts Options) *Server {
	if opts.StatePath != "" {
		panic("sandbox: New does not read Options.StatePath; use Open")
	}
	s, err := newServer(opts)
	if err != nil {
		panic(err)
	}
	return s
}

func newServer(opts Options) (*Server, error) {
	in := opts.Faults
	if in == nil {
		in = fault.MustParse("")
	}
	s := &Server{opts: opts, faults: in, replicas: buildReplicas(opts, in)}
	if err := in.Restrict(targetsOf(s.replicas)); err != nil {
		return nil, fmt.Errorf("sandbox: the fault spec does not fit the replicas: %w", err)
	}
	return s, nil
}

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
	if s.store != nil && s.mayChangeState(r) {
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
	if rep := s.owner(r); rep != nil {
		// Through fault.Serve, so a "lost" fault can apply a request and
		// drop its answer.
		fault.Serve(w, r, rep)
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "no replica serves " + r.Method + " " + path +
		": call a platform API path (GET /_sandbox/state lists the platforms)"})
}

// owner is the first replica that owns r, or nil.
func (s *Server) owner(r *http.Request) Replica {
	for _, rep := range s.replicas {
		if rep.Owns(r) {
			return rep
		}
	}
	return nil
}

// mayChangeState reports whether r may change what the state file holds:
// every write, and the reads its replica says change state.
func (s *Server) mayChangeState(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return true
	}
	cr, ok := s.owner(r).(ChangeReporter)
	return ok && cr.MayChange(r)
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

// State is what GET /_sandbox/state returns: each replica's Inspect under
// its platform's name, in the replicas' order, then the faults.
type State struct {
	Replicas []ReplicaState
	Faults   FaultState
}

// ReplicaState is one replica's part of State.
type ReplicaState struct {
	Platform string
	State    any
}

// MarshalJSON writes State as one object: {"google": …, "meta": …,
// "faults": …}.
func (st State) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for _, r := range st.Replicas {
		if err := writeMember(&b, r.Platform, r.State); err != nil {
			return nil, err
		}
		b.WriteByte(',')
	}
	if err := writeMember(&b, "faults", st.Faults); err != nil {
		return nil, err
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeMember writes "key":value.
func writeMember(b *bytes.Buffer, key string, v any) error {
	k, _ := json.Marshal(key)
	val, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("sandbox: encode %s: %w", key, err)
	}
	b.Write(k)
	b.WriteByte(':')
	b.Write(val)
	return nil
}

// FaultState is the fault spec in force and how often each rule fired.
type FaultState struct {
	Spec  string         `json:"spec"`
	Fired map[string]int `json:"fired"`
}

// State snapshots every replica; withMembers includes stored identifiers.
func (s *Server) State(withMembers bool) State {
	st := State{Faults: FaultState{Spec: s.faults.String(), Fired: s.faults.Fired()}}
	for _, r := range s.replicas {
		st.Replicas = append(st.Replicas, ReplicaState{Platform: r.Platform(), State: r.Inspect(withMembers)})
	}
	return st
}

// Reset empties every replica (audiences, members, sessions, nonces and
// rate-limit windows). The fault spec stays.
func (s *Server) Reset() {
	for _, r := range s.replicas {
		r.Reset()
	}
}

// SetFaults replaces the fault spec (see package fault) and re-arms its
// scripts.
func (s *Server) SetFaults(spec string) error { return s.faults.Load(spec) }

// Replicas returns the replicas the sandbox serves, in routing order.
func (s *Server) Replicas() []Replica { return slices.Clone(s.replicas) }

// Members returns the identifiers stored in audience id of platform's
// replica (see each replica's Members for their form); nil when there is
// no such platform or audience.
func (s *Server) Members(platform, id string) []string {
	for _, r := range s.replicas {
		if r.Platform() == platform {
			return r.Members(id)
		}
	}
	return nil
}
