// Package api is audiencesync's JSON API under /api/v1: the configured
// syncs with their schedules, next and last runs and audience sizes; the
// run log, filtered and paged; one run's report and its rejected-row
// reasons; audience size history per destination; triggering a run or a
// plan; reloading the config. The web UI and scripts sit on it; the
// daemon (`audiencesync serve`) mounts the handler New returns.
//
// The document is an OpenAPI 3 file embedded in the binary and served at
// /api/v1/openapi.json; a test checks that every route here is in it and
// that the responses of a real server validate against its schemas.
//
// Errors are application/problem+json (RFC 9457): type, title, status,
// detail and, where it helps, instance.
//
// Auth: bearer tokens (see auth.go) with a role each: viewer reads,
// operator also triggers runs and plans and reloads the config. Tokens
// live hashed in the state store (state.Tokens); `audiencesync token
// create|list|revoke` manages them. With no token at all in the store,
// requests from loopback are served as operator, so the quickstart works
// with no set-up; the daemon refuses to bind anything but loopback
// without a token (RequireTokens, CheckBind).
package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// Prefix is where the API is mounted.
const Prefix = "/api/v1"

// Options are what the API needs from its host.
type Options struct {
	// Service runs syncs and reads the run log.
	Service *syncs.Service
	// Tokens are the API tokens (the state store's); nil allows no
	// token, so only loopback requests with no token are served.
	Tokens state.Tokens
	// Logger receives the API's logs (requests that failed on the
	// server's side, tokens used, open loopback access); nil discards.
	Logger *zap.Logger
	// Trigger runs a sync on demand; nil runs it through Service.Run.
	// The daemon passes its own, to run it under its concurrency cap and
	// its life cycle. The context it gets is detached from the HTTP
	// request (a run outlives the request that started it); the daemon's
	// Trigger binds it to its own shutdown. It must hand opts.Observer
	// to the run (engine.Fanout with its own): the API learns the run id
	// from the RunStarted event.
	Trigger func(ctx context.Context, sync string, opts syncs.RunOptions) (*report.Report, error)
	// Reload reloads the config; nil answers 501.
	Reload func(ctx context.Context) error
	// NextRun says when a sync runs next on its schedule; nil (or false)
	// leaves next_run out.
	NextRun func(sync string) (time.Time, bool)
	// Now is the clock (token last-used times); nil means time.Now.
	Now func() time.Time
}

// role is what a token may do; a higher role may do what a lower one may.
type role int

const (
	roleNone role = iota
	roleViewer
	roleOperator
)

// Role names, as tokens are created with them.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
)

func parseRole(s string) role {
	switch s {
	case RoleViewer:
		return roleViewer
	case RoleOperator:
		return roleOperator
	}
	return roleNone
}

func (r role) String() string {
	switch r {
	case roleViewer:
		return RoleViewer
	case roleOperator:
		return RoleOperator
	}
	return "none"
}

// route is one endpoint: the table New registers and the OpenAPI test
// checks against the document.
type route struct {
	method, path string
	role         role
	handle       func(s *server, w http.ResponseWriter, r *http.Request) error
}

// routes are every endpoint but the OpenAPI document, which needs no
// token.
var routes = []route{
	{"GET", "/syncs", roleViewer, (*server).listSyncs},
	{"GET", "/syncs/{sync}", roleViewer, (*server).getSync},
	{"GET", "/syncs/{sync}/destinations/{destination}/sizes", roleViewer, (*server).sizeHistory},
	{"POST", "/syncs/{sync}/runs", roleOperator, (*server).triggerRun},
	{"POST", "/syncs/{sync}/plan", roleOperator, (*server).plan},
	{"GET", "/runs", roleViewer, (*server).listRuns},
	{"GET", "/runs/{id}", roleViewer, (*server).getRun},
	{"GET", "/runs/{id}/report", roleViewer, (*server).getReport},
	{"GET", "/runs/{id}/rejected", roleViewer, (*server).rejected},
	{"POST", "/reload", roleOperator, (*server).reload},
}

// openAPIPath is where the document is served.
const openAPIPath = "/openapi.json"

// server is the state behind the handler.
type server struct {
	opts Options
	log  *zap.Logger
	auth *authenticator
}

// New returns the API handler, serving every path under Prefix (and
// nothing else: mount it at "/" or at Prefix+"/").
func New(opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &server{opts: opts, log: log, auth: newAuthenticator(opts.Tokens, log, now)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+openAPIPath, serveOpenAPI)
	methods := map[string][]string{Prefix + openAPIPath: {"GET"}}
	for _, rt := range routes {
		mux.Handle(rt.method+" "+Prefix+rt.path, s.endpoint(rt))
		methods[Prefix+rt.path] = append(methods[Prefix+rt.path], rt.method)
	}
	// Each path also answers its other methods, and every other path
	// under the prefix answers, with problem+json rather than the mux's
	// plain text.
	for path, allowed := range methods {
		mux.Handle(path, methodNotAllowed(allowed))
	}
	mux.Handle(Prefix+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, problemNotFound("no such endpoint: see "+Prefix+openAPIPath))
	}))
	return mux
}

// endpoint wraps a route's handler with authentication, the role check
// and error writing.
func (s *server) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, p := s.auth.authenticate(r)
		if p == nil && who.role < rt.role {
			p = &problem{Type: "forbidden", Title: "Forbidden", Status: http.StatusForbidden,
				Detail: "this needs the " + rt.role.String() + " role; the token " + who.name + " has " + who.role.String() +
					": create an operator token with `audiencesync token create --role operator`"}
		}
		if p != nil {
			writeProblem(w, r, p)
			return
		}
		if err := rt.handle(s, w, r.WithContext(context.WithValue(r.Context(), callerKey{}, who))); err != nil {
			p := problemFor(err)
			if p.Status >= 500 {
				s.log.Error("api request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
			}
			writeProblem(w, r, p)
		}
	})
}

func methodNotAllowed(allowed []string) http.Handler {
	allow := strings.Join(allowed, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeProblem(w, r, &problem{Type: "method-not-allowed", Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
			Detail: r.Method + " is not served here; use " + allow})
	})
}
