// Package web is audiencesync's web UI for marketers, served by
// `audiencesync serve` at / beside the JSON API: every sync's health at a
// glance, one sync's schedule, destinations, audience-size chart and run
// history, one run's report in words and figures, and, for operators,
// preview (a dry run) and run now. A sync with segments shows them
// throughout: a sub-row per segment on the overview, each segment's
// filter, kind and suppression lists on its page, and on a run's page
// each segment's figures with its destinations and the moves between
// stages.
//
// The pages are rendered on the server with html/template and read
// completely without JavaScript. One small script of our own
// (static/app.js) only enhances them: it shows times in the viewer's
// zone and follows a run in progress over server-sent events. A
// framework such as htmx would add a download and a CSP exception for
// what forty lines do; there is no build step.
//
// The UI reads in-process through *syncs.Service and the API's pieces
// (tokens, roles, cursors, destination names), and starts runs through
// the daemon's Trigger, so a run started here shares the concurrency cap
// and the overlap check with scheduled ones.
//
// Sign-in takes an API token (see package api): viewer reads, operator
// also previews and runs. The session is a signed cookie (HMAC-SHA256,
// __Host- prefixed, Secure, HttpOnly, SameSite=Lax, 12 hours) carrying
// the token's id, never the token: each request looks the token up again,
// so revoking it signs its sessions out at once. Every POST carries a
// CSRF token bound to the session, and a request without it is refused
// with 403. With no API token in the store at all, a request from
// loopback signs in as operator without one, as the API serves it.
//
// Security headers on every answer: a Content-Security-Policy allowing
// only this origin's script and style (no inline script, no on*
// attributes, no inline style), frame-ancestors 'none',
// X-Content-Type-Options nosniff and Referrer-Policy same-origin.
//
// No page carries contact data: the run log and reports hold counts,
// reasons and line numbers only.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// Options are what the web UI needs from its host: the same as the API's
// (see api.Options), plus the sessions and the live progress of runs,
// which outlive a reload.
type Options struct {
	// Service runs syncs and reads the run log.
	Service *syncs.Service
	// Tokens are the API tokens that sign people in.
	Tokens state.Tokens
	// Logger receives the UI's logs; nil discards.
	Logger *zap.Logger
	// Trigger runs a sync on demand (the daemon's, under its concurrency
	// cap); nil runs it through Service.Run. Like the API's, it must hand
	// the run's Observer on.
	Trigger func(ctx context.Context, sync string, opts syncs.RunOptions) (*report.Report, error)
	// NextRun says when a sync runs next; nil shows no next run.
	NextRun func(sync string) (time.Time, bool)
	// Sessions signs the session cookies; nil makes one for this handler
	// alone (sessions then end when the handler is replaced). The daemon
	// keeps one for the life of the process.
	Sessions *Sessions
	// Live follows runs in progress. When given, its owner hands it every
	// run's events (daemon.Options.Observer); when nil, the handler makes
	// its own and follows the runs it starts.
	Live *Live
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// server is the state behind the handler.
type server struct {
	opts     Options
	log      *zap.Logger
	now      func() time.Time
	sessions *Sessions
	live     *Live
	feedLive bool // the handler feeds live itself
	pages    map[string]*template.Template
}

// New returns the web UI's handler, serving every path but /api/v1/,
// /healthz, /readyz and /metrics (which the daemon serves itself).
func New(opts Options) http.Handler {
	s := &server{opts: opts, log: opts.Logger, now: opts.Now, sessions: opts.Sessions, live: opts.Live}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.sessions == nil {
		s.sessions = NewSessions(0)
	}
	if s.live == nil {
		s.live, s.feedLive = NewLive(), true
	}
	s.pages = parsePages()

	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticFiles(static)))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.Handle("POST /logout", s.page(api.RoleViewer, (*server).logout))
	mux.Handle("GET /{$}", s.page(api.RoleViewer, (*server).overview))
	mux.Handle("GET /syncs/{sync}", s.page(api.RoleViewer, (*server).syncPage))
	mux.Handle("GET /syncs/{sync}/preview", s.page(api.RoleOperator, (*server).confirmPreview))
	mux.Handle("POST /syncs/{sync}/preview", s.page(api.RoleOperator, (*server).preview))
	mux.Handle("GET /syncs/{sync}/run", s.page(api.RoleOperator, (*server).confirmRun))
	mux.Handle("POST /syncs/{sync}/run", s.page(api.RoleOperator, (*server).runNow))
	mux.Handle("GET /runs/{id}", s.page(api.RoleViewer, (*server).runPage))
	mux.Handle("GET /runs/{id}/report.json", s.page(api.RoleViewer, (*server).reportJSON))
	mux.Handle("GET /runs/{id}/report.csv", s.page(api.RoleViewer, (*server).reportCSV))
	mux.Handle("GET /runs/{id}/live", s.page(api.RoleViewer, (*server).liveEvents))
	mux.Handle("/", s.page(api.RoleViewer, func(*server, http.ResponseWriter, *http.Request, *viewer) error {
		return &pageError{Status: http.StatusNotFound, Title: "Page not found", Detail: "There is no such page. The overview lists every sync."}
	}))
	return securityHeaders(mux)
}

// csp allows this origin's script and style only: no inline script or
// style, no frames, no plugins; forms post here only.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// staticFiles serves the embedded script and style sheet; they change
// only with the binary, so browsers may keep them for an hour.
func staticFiles(root fs.FS) http.Handler {
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// viewer is who is signed in.
type viewer struct {
	Name     string
	Role     string
	Operator bool
	// CSRF goes in every form this viewer posts.
	CSRF string
	// StartedBy is what the run log records for a run this viewer
	// starts (state.Run.StartedBy): "web:" and the token's name, or
	// "web" when signed in without a token.
	startedBy string
}

// pageError is an error a page answers with: a status and words for
// people. Other errors are 500s whose detail is logged, not shown.
type pageError struct {
	Status int
	Title  string
	Detail string
}

func (e *pageError) Error() string { return e.Title + ": " + e.Detail }

// handler is a page: it writes the answer, or returns the error to show.
type handler func(s *server, w http.ResponseWriter, r *http.Request, v *viewer) error

// page wraps a handler with sign-in, the role check, the CSRF check of a
// POST and error pages.
func (s *server) page(need string, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, sess, err := s.viewerOf(r)
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		if v == nil {
			target := "/login"
			if r.Method == http.MethodGet && r.URL.Path != "/" {
				target += "?next=" + urlQueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if !api.RoleAllows(v.Role, need) {
			s.fail(w, r, v, &pageError{Status: http.StatusForbidden, Title: "Not allowed",
				Detail: "This needs the " + need + " role, and you are signed in with a " + v.Role + " token. " +
					"Ask for an operator token (`audiencesync token create --role operator`) and sign in with it."})
			return
		}
		if r.Method == http.MethodPost && !s.sessions.checkCSRF(sess, r.PostFormValue("csrf")) {
			s.fail(w, r, v, errForged)
			return
		}
		if err := h(s, w, r, v); err != nil {
			s.fail(w, r, v, err)
		}
	})
}

// errForged answers a POST without the session's CSRF token.
var errForged = &pageError{Status: http.StatusForbidden, Title: "Request refused",
	Detail: "This form was not sent from a page of this site (its security token is missing or out of date). Go back, reload the page and try again."}

// fail writes the error page for err.
func (s *server) fail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var pe *pageError
	switch {
	case errors.As(err, &pe):
	case errors.Is(err, syncs.ErrNotFound), errors.Is(err, state.ErrNotFound):
		pe = &pageError{Status: http.StatusNotFound, Title: "Not found", Detail: err.Error() + ". The overview lists every sync."}
	default:
		s.log.Error("web page failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
		pe = &pageError{Status: http.StatusInternalServerError, Title: "Something went wrong",
			Detail: "The page could not be made; the server log says why. Try again in a moment."}
	}
	s.render(w, pe.Status, "error", pageData{Title: pe.Title, Viewer: v, Body: pe})
}

// pageData is what every page template gets.
type pageData struct {
	Title  string
	Viewer *viewer
	// Refresh, when set, reloads the page after that many seconds when
	// JavaScript is off (a run in progress).
	Refresh int
	Body    any
}

// render executes page name into the answer. The page is rendered into
// a buffer first, so a template error still becomes an error page.
func (s *server) render(w http.ResponseWriter, status int, name string, data pageData) {
	var b strings.Builder
	if err := s.pages[name].ExecuteTemplate(&b, "layout", data); err != nil {
		s.log.Error("render web page", zap.String("page", name), zap.Error(err))
		http.Error(w, "the page could not be rendered; see the server log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// parsePages parses each page with the layout and the shared partials.
func parsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(fmt.Sprintf("web: list templates: %v", err))
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		pages[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n))
	}
	return pages
}
