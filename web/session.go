package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/state"
)

// cookieName has the __Host- prefix: the browser keeps it only when it is
// Secure, for this host alone (no Domain) and for every path.
const cookieName = "__Host-audiencesync"

// DefaultSessionTTL is how long a sign-in lasts when NewSessions is given
// 0: a working day, after which one signs in again.
const DefaultSessionTTL = 12 * time.Hour

// Sessions signs and checks session cookies. A session is a cookie
// holding a random session id, the id of the API token it signed in with
// (or that it signed in without one, from loopback with no token in the
// store) and its expiry, signed with a key that lives in memory: a
// restart signs everyone out. Logging out records the session id as ended
// until its expiry, so a copied cookie stops working too. Safe for
// concurrent use.
type Sessions struct {
	key []byte
	ttl time.Duration

	mu    sync.Mutex
	ended map[string]time.Time // session id → its expiry
}

// NewSessions makes a key for session cookies that last ttl
// (DefaultSessionTTL when 0).
func NewSessions(ttl time.Duration) *Sessions {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Sessions{key: key, ttl: ttl, ended: map[string]time.Time{}}
}

// session is a cookie's content. A session with neither TokenID nor Open
// is signed out: it exists so that the sign-in form has a CSRF token.
type session struct {
	ID      string `json:"s"`
	TokenID string `json:"t,omitempty"`
	Open    bool   `json:"o,omitempty"`
	Expires int64  `json:"e"`
}

func (s *Sessions) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)
}

// encode returns the cookie value of sess: its JSON and its signature.
func (s *Sessions) encode(sess session) string {
	payload, _ := json.Marshal(sess)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.sign(payload))
}

// decode checks a cookie value and returns its session; false for one
// that is forged, expired or logged out.
func (s *Sessions) decode(value string, now time.Time) (session, bool) {
	p, sig, ok := strings.Cut(value, ".")
	if !ok {
		return session{}, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.sign(payload)) {
		return session{}, false
	}
	var sess session
	if json.Unmarshal(payload, &sess) != nil || sess.ID == "" || now.Unix() >= sess.Expires {
		return session{}, false
	}
	s.mu.Lock()
	_, ended := s.ended[sess.ID]
	s.mu.Unlock()
	return sess, !ended
}

// end records sess as logged out, forgetting sessions that expired.
func (s *Sessions) end(sess session, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, exp := range s.ended {
		if now.After(exp) {
			delete(s.ended, id)
		}
	}
	s.ended[sess.ID] = time.Unix(sess.Expires, 0)
}

// csrf is the CSRF token of sess: a MAC of its id, so it needs no
// storage and changes with every sign-in.
func (s *Sessions) csrf(sess session) string {
	return hex.EncodeToString(s.sign([]byte("csrf\x00" + sess.ID))[:16])
}

func (s *Sessions) checkCSRF(sess session, got string) bool {
	want := s.csrf(sess)
	return sess.ID != "" && hmac.Equal([]byte(got), []byte(want))
}

// newSession starts a session, signed in as tokenID (or open, or neither).
func (s *Sessions) newSession(tokenID string, open bool, now time.Time) session {
	var id [16]byte
	_, _ = rand.Read(id[:])
	return session{ID: hex.EncodeToString(id[:]), TokenID: tokenID, Open: open, Expires: now.Add(s.ttl).Unix()}
}

// setCookie sends sess. SameSite=Lax, not Strict: a link to a run page in
// an alert or a chat opens signed in, and that is all Lax lets another
// site do, since no GET here changes anything and every POST needs the
// session's CSRF token.
func (s *Sessions) setCookie(w http.ResponseWriter, sess session) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.encode(sess), Path: "/", Expires: time.Unix(sess.Expires, 0),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// current returns the request's session, if its cookie checks out.
func (s *server) current(r *http.Request) (session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	return s.sessions.decode(c.Value, s.now())
}

// viewerOf returns who is signed in on r (nil when no one is) and the
// session. The token is looked up on every request: a revoked token, or
// an open session once a token exists, is signed out.
func (s *server) viewerOf(r *http.Request) (*viewer, session, error) {
	sess, ok := s.current(r)
	if !ok {
		return nil, sess, nil
	}
	v := &viewer{CSRF: s.sessions.csrf(sess)}
	switch {
	case sess.TokenID != "":
		if s.opts.Tokens == nil {
			return nil, sess, nil
		}
		t, err := s.opts.Tokens.TokenByID(r.Context(), sess.TokenID)
		if errors.Is(err, state.ErrNotFound) {
			return nil, sess, nil
		}
		if err != nil {
			return nil, sess, err
		}
		v.Name, v.Role, v.startedBy = t.Name, t.Role, "web:"+t.Name
	case sess.Open:
		open, err := api.OpenAccess(r.Context(), s.opts.Tokens, r.RemoteAddr)
		if err != nil {
			return nil, sess, err
		}
		if !open {
			return nil, sess, nil
		}
		v.Name, v.Role, v.startedBy = "loopback (no tokens exist)", api.RoleOperator, "web"
	default:
		return nil, sess, nil
	}
	v.Operator = api.RoleAllows(v.Role, api.RoleOperator)
	return v, sess, nil
}

// loginData is the sign-in page's.
type loginData struct {
	CSRF  string
	Next  string
	Error string
	// Open says no token exists and the request comes from loopback:
	// signing in needs no token.
	Open bool
	// Out says the viewer just signed out.
	Out bool
}

// loginPage: GET /login. It starts a signed-out session so that the form
// carries a CSRF token; someone signed in already goes on to the page.
func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	if v, _, err := s.viewerOf(r); err == nil && v != nil && r.URL.Query().Get("out") == "" {
		target := localPath(r.URL.Query().Get("next"))
		if target == "" {
			target = "/"
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	sess, ok := s.current(r)
	if !ok {
		sess = s.sessions.newSession("", false, s.now())
		s.sessions.setCookie(w, sess)
	}
	open, err := api.OpenAccess(r.Context(), s.opts.Tokens, r.RemoteAddr)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	s.render(w, http.StatusOK, "login", pageData{Title: "Sign in", Body: loginData{CSRF: s.sessions.csrf(sess),
		Next: localPath(r.URL.Query().Get("next")), Open: open, Out: r.URL.Query().Get("out") != ""}})
}

// login: POST /login with the form's token. A new session id is issued on
// sign-in, so a session id planted before it is worth nothing after.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.current(r)
	if !s.sessions.checkCSRF(sess, r.PostFormValue("csrf")) {
		s.fail(w, r, nil, errForged)
		return
	}
	again := func(status int, msg string, open bool) {
		s.render(w, status, "login", pageData{Title: "Sign in", Body: loginData{CSRF: s.sessions.csrf(sess),
			Next: localPath(r.PostFormValue("next")), Error: msg, Open: open}})
	}
	if !secureRequest(r) {
		again(http.StatusBadRequest, "Signing in sends your token, so it needs HTTPS here: open this page through an HTTPS proxy "+
			"(one that sets X-Forwarded-Proto: https), or on the server itself at 127.0.0.1.", false)
		return
	}
	open, err := api.OpenAccess(r.Context(), s.opts.Tokens, r.RemoteAddr)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	var next session
	switch {
	case tok == "" && open:
		next = s.sessions.newSession("", true, s.now())
	case tok == "":
		again(http.StatusUnauthorized, "Paste an API token. Create one with `audiencesync token create --role viewer` (or operator to run syncs).", false)
		return
	default:
		t, err := api.LookupToken(r.Context(), s.opts.Tokens, tok)
		switch {
		case errors.Is(err, api.ErrBadToken), errors.Is(err, state.ErrNotFound):
			again(http.StatusUnauthorized, "That token is not valid: it may have been revoked, or mistyped. "+
				"Create one with `audiencesync token create --role viewer`.", open)
			return
		case err != nil:
			s.fail(w, r, nil, err)
			return
		}
		if err := s.opts.Tokens.TouchToken(r.Context(), t.ID, s.now().UTC()); err != nil {
			s.log.Warn("record API token use", zap.String("token_id", t.ID), zap.Error(err))
		}
		next = s.sessions.newSession(t.ID, false, s.now())
		s.log.Info("web: signed in", zap.String("token", t.Name), zap.String("role", t.Role))
	}
	s.sessions.setCookie(w, next)
	target := localPath(r.PostFormValue("next"))
	if target == "" {
		target = "/"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// logout: POST /logout.
func (s *server) logout(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	if sess, ok := s.current(r); ok {
		s.sessions.end(sess, s.now())
	}
	clearCookie(w)
	http.Redirect(w, r, "/login?out=1", http.StatusSeeOther)
	return nil
}

// secureRequest reports whether a token may travel in r: over TLS, behind
// a proxy that terminated TLS, or within the machine (loopback), where
// browsers also keep Secure cookies.
func secureRequest(r *http.Request) bool {
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// localPath returns p when it is a path on this site ("/runs/…"), and ""
// otherwise, so that ?next= cannot send anyone elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return ""
	}
	return p
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
