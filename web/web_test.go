package web_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/internal/servetest"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
	"github.com/audiencesync/audiencesync/web"
)

// quickstart copies the quickstart config and its CSV into a temp dir and
// returns the config's path.
func quickstart(t testing.TB) string {
	t.Helper()
	return servetest.Quickstart(t, "..", nil)
}

// runWait is how long a test waits for a quickstart run to get somewhere:
// a second or two normally, much longer under -race on a busy machine.
const runWait = 3 * time.Minute

// bundle is the UI on a real server on loopback, over a service on the
// quickstart config with its SQLite state.
type bundle struct {
	svc      *syncs.Service
	tokens   state.Tokens
	store    state.Store
	srv      *httptest.Server
	viewer   string // a viewer token
	operator string // an operator token
}

// setup starts the UI; with noTokens the store holds no token.
func setup(t testing.TB, noTokens bool) *bundle {
	t.Helper()
	return setupWith(t, noTokens, quickstart(t), nil)
}

// setupWith starts the UI on the config at path, on the clock now (nil:
// the real one).
func setupWith(t testing.TB, noTokens bool, path string, now func() time.Time) *bundle {
	t.Helper()
	return setupClocks(t, noTokens, path, now, nil)
}

// setupClocks starts the UI on the config at path, the pages on the clock
// now and the runs on runNow (nil: the real ones).
func setupClocks(t testing.TB, noTokens bool, path string, now, runNow func() time.Time) *bundle {
	t.Helper()
	b := &bundle{}
	var err error
	b.svc, err = syncs.Open(t.Context(), syncs.Options{ConfigPath: path, Now: runNow})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.svc.Close()) })
	b.tokens, err = b.svc.Tokens(t.Context())
	require.NoError(t, err)
	b.store = b.tokens.(state.Store)
	if !noTokens {
		b.viewer = createToken(t, b.tokens, "marketing", api.RoleViewer)
		b.operator = createToken(t, b.tokens, "ops", api.RoleOperator)
	}
	b.srv = httptest.NewServer(web.New(web.Options{Service: b.svc, Tokens: b.tokens, Logger: zaptest.NewLogger(t), Now: now,
		NextRun: func(string) (time.Time, bool) { return time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC), true }}))
	t.Cleanup(b.srv.Close)
	return b
}

func createToken(t testing.TB, tokens state.Tokens, name, role string) string {
	t.Helper()
	return servetest.Token(t, tokens, name, role)
}

// runBoth runs both quickstart syncs once.
func (b *bundle) runBoth(t testing.TB) (cart, news *report.Report) {
	t.Helper()
	cart, err := b.svc.Run(t.Context(), "cart-abandoners", syncs.RunOptions{})
	require.NoError(t, err)
	news, err = b.svc.Run(t.Context(), "newsletter-subscribers", syncs.RunOptions{})
	require.NoError(t, err)
	return cart, news
}

// client is a browser without JavaScript: a cookie jar that follows no
// redirect, so tests see each answer.
type client struct {
	t    testing.TB
	b    *bundle
	http *http.Client
}

func (b *bundle) client(t testing.TB) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &client{t: t, b: b, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path string, form url.Values) page {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.b.srv.URL+path, body)
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return page{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func (c *client) get(path string) page { return c.do(http.MethodGet, path, nil) }

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrf returns the CSRF token of the form on p.
func csrf(t testing.TB, p page) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	require.NotNil(t, m, "no CSRF field on the page:\n%s", p.body)
	return m[1]
}

// signIn signs in with token ("" for the open loopback sign-in) and
// returns the answer to the form.
func (c *client) signIn(token string) page {
	c.t.Helper()
	login := c.get("/login")
	require.Equal(c.t, http.StatusOK, login.status)
	return c.do(http.MethodPost, "/login", url.Values{"csrf": {csrf(c.t, login)}, "token": {token}})
}

func (c *client) signedIn(token string) *client {
	c.t.Helper()
	p := c.signIn(token)
	require.Equal(c.t, http.StatusSeeOther, p.status, p.body)
	return c
}

// post sends a form with the CSRF token of the page at from.
func (c *client) post(from, path string, form url.Values) page {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", csrf(c.t, c.get(from)))
	return c.do(http.MethodPost, path, form)
}

// Pages need a signed-in viewer; each role sees and does what it may:
// a viewer reads, an operator also previews and runs; an unknown or
// revoked token signs no one in.
func TestSignInAndRoles(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	b.runBoth(t)
	runs, err := b.svc.Runs(t.Context(), "cart-abandoners", 1)
	require.NoError(t, err)
	runPath := "/runs/" + runs[0].ID

	anon := b.client(t)
	p := anon.get(runPath)
	require.Equal(t, http.StatusSeeOther, p.status)
	require.Equal(t, "/login?next="+url.QueryEscape(runPath), p.header.Get("Location"), "signed out: sent to sign in, and back after")
	p = anon.get("/")
	require.Equal(t, http.StatusSeeOther, p.status)

	for _, bad := range []string{"not-a-token", "ast_0123456789abcdef_" + strings.Repeat("0", 64), b.operator + "x"} {
		p = b.client(t).signIn(bad)
		require.Equal(t, http.StatusUnauthorized, p.status, bad)
		require.Contains(t, p.body, "That token is not valid")
	}
	p = b.client(t).signIn("")
	require.Equal(t, http.StatusUnauthorized, p.status, "an empty token signs in only while no token exists")

	type want struct {
		path   string
		method string
		status int
	}
	cases := []struct {
		name  string
		token string
		want  []want
	}{
		{"viewer", b.viewer, []want{
			{"/", "GET", 200}, {"/syncs/cart-abandoners", "GET", 200}, {runPath, "GET", 200},
			{runPath + "/report.json", "GET", 200}, {runPath + "/report.csv", "GET", 200},
			{"/syncs/cart-abandoners/preview", "GET", 403}, {"/syncs/cart-abandoners/run", "GET", 403},
			{"/syncs/cart-abandoners/preview", "POST", 403}, {"/syncs/cart-abandoners/run", "POST", 403},
			{"/syncs/nope", "GET", 404}, {"/runs/nope", "GET", 404}, {"/elsewhere", "GET", 404},
		}},
		{"operator", b.operator, []want{
			{"/", "GET", 200}, {"/syncs/cart-abandoners/preview", "GET", 200}, {"/syncs/cart-abandoners/run", "GET", 200},
			{"/syncs/cart-abandoners/preview", "POST", 200},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := b.client(t).signedIn(tc.token)
			for _, w := range tc.want {
				var p page
				if w.method == "POST" {
					p = c.post("/", w.path, nil)
				} else {
					p = c.get(w.path)
				}
				require.Equal(t, w.status, p.status, "%s %s: %s", w.method, w.path, p.body)
			}
			home := c.get("/")
			require.Contains(t, home.body, "Signed in as <strong>")
			sync := c.get("/syncs/cart-abandoners")
			if tc.name == "viewer" {
				require.NotContains(t, sync.body, "Run now", "a viewer is not offered actions")
			} else {
				require.Contains(t, sync.body, `href="/syncs/cart-abandoners/run"`)
			}
		})
	}
}

// Signing out ends the session, also for a copy of its cookie; revoking
// the token signs its sessions out at once.
func TestSignOutAndRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	c := b.client(t).signedIn(b.viewer)
	require.Equal(t, http.StatusOK, c.get("/").status)
	u, _ := url.Parse(b.srv.URL)
	stolen := c.http.Jar.Cookies(u)
	require.Len(t, stolen, 1)
	cookie := stolen[0]
	require.Equal(t, "__Host-audiencesync", cookie.Name)

	p := c.post("/", "/logout", nil)
	require.Equal(t, http.StatusSeeOther, p.status)
	require.Equal(t, "/login?out=1", p.header.Get("Location"))
	require.Contains(t, p.header.Get("Set-Cookie"), "Max-Age=0")
	require.Equal(t, http.StatusSeeOther, c.get("/").status, "signed out")

	replay := b.client(t)
	replay.http.Jar.SetCookies(u, []*http.Cookie{cookie})
	require.Equal(t, http.StatusSeeOther, replay.get("/").status, "the old cookie is worth nothing after sign-out")

	// Revocation.
	c2 := b.client(t).signedIn(b.operator)
	require.Equal(t, http.StatusOK, c2.get("/").status)
	_, err := b.tokens.RevokeToken(t.Context(), "ops")
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, c2.get("/").status, "a revoked token's session is signed out")
}

// The session cookie is Secure, HttpOnly, SameSite=Lax, host-only and
// expires; a tampered cookie signs no one in.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	c := b.client(t)
	p := c.signIn(b.viewer)
	require.Equal(t, http.StatusSeeOther, p.status)
	resp := &http.Response{Header: p.header}
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	ck := cookies[0]
	require.True(t, ck.Secure)
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	require.Equal(t, "/", ck.Path)
	require.Empty(t, ck.Domain)
	require.WithinDuration(t, time.Now().Add(web.DefaultSessionTTL), ck.Expires, time.Minute)
	require.NotContains(t, ck.Value, b.viewer, "the cookie never holds the token")

	u, _ := url.Parse(b.srv.URL)
	for _, forged := range []string{ck.Value + "x", "e30." + strings.SplitN(ck.Value, ".", 2)[1], "garbage"} {
		f := b.client(t)
		f.http.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: forged}})
		require.Equal(t, http.StatusSeeOther, f.get("/").status, forged)
	}
}

// Every POST needs the session's CSRF token: a forged one is refused
// with 403 and starts nothing.
func TestCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	c := b.client(t).signedIn(b.operator)
	other := b.client(t).signedIn(b.operator)
	otherToken := csrf(t, other.get("/"))
	for _, path := range []string{"/syncs/cart-abandoners/run", "/syncs/cart-abandoners/preview", "/logout"} {
		for name, form := range map[string]url.Values{
			"none":              {},
			"wrong":             {"csrf": {strings.Repeat("0", 32)}},
			"another session's": {"csrf": {otherToken}},
		} {
			p := c.do(http.MethodPost, path, form)
			require.Equal(t, http.StatusForbidden, p.status, "%s with %s token", path, name)
			require.Contains(t, p.body, "Request refused")
		}
	}
	runs, err := b.svc.Runs(t.Context(), "", 10)
	require.NoError(t, err)
	require.Empty(t, runs, "no forged request started a run")
	require.Equal(t, http.StatusOK, c.get("/").status, "still signed in: the forged logout did nothing")

	// The sign-in form has its own.
	login := b.client(t)
	login.get("/login")
	p := login.do(http.MethodPost, "/login", url.Values{"token": {b.operator}})
	require.Equal(t, http.StatusForbidden, p.status)
}

// With no token in the store, loopback signs in as operator with an
// empty token, as the API serves it; once a token exists, that session
// is signed out.
func TestOpenLoopbackSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	c := b.client(t)
	login := c.get("/login")
	require.Contains(t, login.body, "No API token exists yet")
	c.signedIn("")
	home := c.get("/")
	require.Equal(t, http.StatusOK, home.status)
	require.Contains(t, home.body, "loopback (no tokens exist)")
	again := c.get("/login?next=%2Fsyncs%2Fcart-abandoners")
	require.Equal(t, http.StatusSeeOther, again.status, "signed in already")
	require.Equal(t, "/syncs/cart-abandoners", again.header.Get("Location"))
	require.Equal(t, http.StatusOK, c.get("/syncs/cart-abandoners/run").status, "operator")

	createToken(t, b.tokens, "first", api.RoleViewer)
	require.Equal(t, http.StatusSeeOther, c.get("/").status)
	require.NotContains(t, c.get("/login").body, "No API token exists yet")
}

// Every answer carries the security headers; pages are not cached.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	c := b.client(t)
	for _, path := range []string{"/login", "/", "/static/app.js", "/static/app.css", "/nope"} {
		p := c.get(path)
		h := p.header
		csp := h.Get("Content-Security-Policy")
		require.Contains(t, csp, "script-src 'self'", path)
		require.Contains(t, csp, "frame-ancestors 'none'", path)
		require.NotContains(t, csp, "unsafe-inline", path)
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
		require.Equal(t, "same-origin", h.Get("Referrer-Policy"), path)
		require.Equal(t, "DENY", h.Get("X-Frame-Options"), path)
	}
	require.Equal(t, "no-store", c.get("/login").header.Get("Cache-Control"))
	require.Contains(t, c.get("/static/app.js").header.Get("Content-Type"), "javascript")
	require.Equal(t, http.StatusNotFound, c.get("/static/").status, "no directory listing")
}

var inlineScript = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|<[^>]*\s(?:on[a-z]+|style)\s*=|javascript:`)

// A run's pages escape what they show, carry no inline script, style or
// event handler (the CSP would block them), and stay under 200 KB.
func TestPagesEscapeAndStaySmall(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	cart, _ := b.runBoth(t)
	// A run whose report carries markup where text goes.
	hostile := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	rep := report.Report{RunID: "hostile-run", Sync: "cart-abandoners", Status: report.StatusFailed, Error: hostile,
		StartedAt: time.Now().Add(-time.Minute), FinishedAt: time.Now(),
		Source:       report.Source{Rejected: map[string]int64{hostile: 2}, RejectedLines: map[string][]int64{hostile: {7, 9}}},
		Destinations: []*report.Destination{{Name: "google", Type: "google_ads", Status: report.StatusFailed, Errors: []string{hostile}}}}
	var body strings.Builder
	require.NoError(t, rep.WriteJSON(&body))
	require.NoError(t, b.store.BeginRun(t.Context(), state.Run{ID: rep.RunID, Sync: rep.Sync, Status: "running", Started: rep.StartedAt}))
	require.NoError(t, b.store.FinishRun(t.Context(), rep.RunID, "failed", rep.FinishedAt, []byte(body.String()), nil))

	c := b.client(t).signedIn(b.operator)
	for _, path := range []string{"/", "/syncs/cart-abandoners", "/syncs/newsletter-subscribers", "/runs/" + cart.RunID, "/runs/hostile-run",
		"/syncs/cart-abandoners/run", "/syncs/cart-abandoners/preview"} {
		p := c.get(path)
		require.Equal(t, http.StatusOK, p.status, path)
		require.Less(t, len(p.body), 200<<10, "%s is %d bytes", path, len(p.body))
		require.NotContains(t, p.body, "<script>alert", path)
		require.NotContains(t, p.body, "<img src=x", path)
		require.Nil(t, inlineScript.FindStringIndex(p.body), "%s has inline script, style or a handler: %q", path, inlineScript.FindString(p.body))
	}
	p := c.get("/runs/hostile-run")
	require.Contains(t, p.body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	login := b.client(t).get("/login?next=%22%3E%3Cscript%3E")
	require.Equal(t, http.StatusOK, login.status)
	require.Nil(t, inlineScript.FindStringIndex(login.body))
	require.Contains(t, login.body, `name="next" value=""`, "a next that is not a path here is dropped")
}

// fixtureEmails are the e-mail addresses in the quickstart CSV.
func fixtureEmails(t testing.TB) []string {
	t.Helper()
	return emailsIn(t, "../configs/quickstart/contacts.csv", 1000)
}

// emailsIn returns the e-mail addresses in the file at path, more than
// least of them.
func emailsIn(t testing.TB, path string, least int) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	re := regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, re.FindAllString(sc.Text(), -1)...)
	}
	require.NoError(t, sc.Err())
	require.Greater(t, len(out), least, "%s has e-mail addresses to look for", path)
	return out
}

// requireNoContactData fails when html holds an e-mail address of the
// fixture, or anything shaped like one.
func requireNoContactData(t testing.TB, where, html string, emails []string) {
	t.Helper()
	lower := strings.ToLower(html)
	for _, e := range emails {
		require.NotContains(t, lower, strings.ToLower(e), "%s shows a contact's e-mail address", where)
	}
	require.NotRegexp(t, `[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}`, html, "%s shows something like an e-mail address", where)
}

// The run page reads the report as a marketer would: the summary
// sentences, the source figures with reasons in words and line numbers,
// each destination's planned and applied counts, its audience id and the
// platform's match rate. No page shows a contact's e-mail address.
func TestRunPageReadsTheReport(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	cart, news := b.runBoth(t)
	c := b.client(t).signedIn(b.viewer)
	p := c.get("/runs/" + cart.RunID)
	require.Equal(t, http.StatusOK, p.status)
	g := cart.Destinations[0]
	require.Equal(t, "google", g.Name)
	for _, want := range []string{
		"2,003 records read: 1,980 valid, 19 duplicates, 4 rejected, mostly rows that could not be read",
		num(g.Applied.Added) + " contacts sent to Google Ads (google), 0 removed; 204 rejected, mostly malformed e-mail addresses.",
		"<td>501, 1,201, 1,801</td>",
		"malformed e-mail addresses <code>email.malformed</code>",
		`<dd data-figure="read">2,003</dd>`,
		"<code>" + g.AudienceID + "</code>",
		"Match rate: <strong>" + g.Platform.MatchRate + "</strong>",
		`href="/runs/` + cart.RunID + `/report.json"`,
	} {
		require.Contains(t, p.body, want)
	}

	// Downloads: the JSON as stored, the CSV one row per destination.
	j := c.get("/runs/" + cart.RunID + "/report.json")
	require.Equal(t, "application/json", j.header.Get("Content-Type"))
	rec, err := b.svc.RunRecord(t.Context(), cart.RunID)
	require.NoError(t, err)
	require.Equal(t, string(rec.Report), j.body)
	cs := c.get("/runs/" + cart.RunID + "/report.csv")
	rows, err := csv.NewReader(strings.NewReader(cs.body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+len(cart.Destinations))
	require.Equal(t, "destination", rows[0][3])
	require.Equal(t, "google", rows[1][3])
	require.Equal(t, g.AudienceID, rows[1][6])

	emails := fixtureEmails(t)
	for _, path := range []string{"/", "/syncs/cart-abandoners", "/syncs/newsletter-subscribers", "/runs/" + cart.RunID, "/runs/" + news.RunID,
		"/runs/" + cart.RunID + "/report.json", "/runs/" + cart.RunID + "/report.csv"} {
		requireNoContactData(t, path, c.get(path).body, emails)
	}
}

// num writes n with thousands separators, as the pages do.
func num(n int64) string {
	raw := strconv.FormatInt(n, 10)
	var s strings.Builder
	for i := range len(raw) {
		if i > 0 && (len(raw)-i)%3 == 0 {
			s.WriteByte(',')
		}
		s.WriteByte(raw[i])
	}
	return s.String()
}

// Before any run every page says what to do, not an empty table.
func TestEmptyStates(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	c := b.client(t).signedIn(b.operator)
	home := c.get("/")
	require.Contains(t, home.body, "no runs yet — run <code>audiencesync sync --sync cart-abandoners</code> or press Run now")
	sync := c.get("/syncs/cart-abandoners")
	require.Contains(t, sync.body, "No runs yet — run <code>audiencesync sync --config FILE --sync cart-abandoners</code> or press Run now")
	require.Contains(t, sync.body, "No size yet: sizes appear after the first run that succeeds on google.")
	require.Contains(t, sync.body, "every minute (UTC time")
	require.Contains(t, c.get("/syncs/newsletter-subscribers").body, "every 5 minutes from 08:00 to 20:59 (Europe/Paris time")
}

// The sync page draws one chart point per run that succeeded, with the
// exact sizes in a table, and pages its run history.
func TestSyncPageChartAndHistory(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	for range 3 {
		b.runBoth(t)
	}
	c := b.client(t).signedIn(b.viewer)
	p := c.get("/syncs/cart-abandoners")
	require.Equal(t, http.StatusOK, p.status)
	charts := strings.Split(p.body, `<figure class="chartbox">`)[1:]
	require.Len(t, charts, 8, "google, meta, x, linkedin, mailchimp and the three upload files")
	for _, ch := range charts {
		require.Equal(t, 3, strings.Count(ch, `<circle class="pt"`), "one point per run")
		require.Equal(t, 3, strings.Count(ch, "<td class=\"n\">1,"), "one table row per run")
	}
	require.Equal(t, 3, strings.Count(p.body, `<tr>
  <td><a href="/runs/`), "three runs in the history")
	require.Contains(t, p.body, "<code>"+"9000000001"+"</code>", "the remote audience id")
	require.NotContains(t, p.body, "Older runs")
	require.Equal(t, 3, strings.Count(p.body, ">not recorded</span>"), "runs started without saying by whom")
}

// Who or what started a run is read from the run log: a new UI, on a
// new service over the same state (a restart), still shows it for runs
// started through the UI, the command line and the schedule.
func TestStartedByAfterRestart(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	webRun := b.client(t).signedIn(b.operator).runNow("cart-abandoners", nil)
	for _, by := range []string{"cli", "schedule"} {
		_, err := b.svc.Run(t.Context(), "cart-abandoners", syncs.RunOptions{StartedBy: by, Wait: runWait})
		require.NoError(t, err)
	}

	again := setupWith(t, true, b.svc.Config().Path, nil)
	again.viewer = b.viewer
	page := again.client(t).signedIn(again.viewer).get("/syncs/cart-abandoners")
	require.Equal(t, http.StatusOK, page.status)
	for _, want := range []string{"<td>ops (web)</td>", "<td>command line</td>", "<td>schedule</td>"} {
		require.Contains(t, page.body, want)
	}
	require.NotContains(t, page.body, "not recorded")
	run := again.client(t).signedIn(again.viewer).get("/runs/" + webRun)
	require.Equal(t, http.StatusOK, run.status)
	require.Contains(t, run.body, "started by ops (web)")
	requireNoContactData(t, "sync page", page.body, fixtureEmails(t))
}

// runNow presses Run now on sync's page with form, and returns the id of
// the run the browser is sent to, once its report is recorded.
func (c *client) runNow(sync string, form url.Values) string {
	c.t.Helper()
	p := c.post("/syncs/"+sync+"/run", "/syncs/"+sync+"/run", form)
	require.Equal(c.t, http.StatusSeeOther, p.status, p.body)
	loc := p.header.Get("Location")
	require.True(c.t, strings.HasPrefix(loc, "/runs/"), loc)
	id := strings.TrimPrefix(loc, "/runs/")
	require.Eventually(c.t, func() bool {
		rec, err := c.b.svc.RunRecord(c.t.Context(), id)
		return err == nil && len(rec.Report) > 0
	}, runWait, 50*time.Millisecond)
	return id
}

// A preview shows the plan as a report marked dry run; run now starts a
// run through Trigger and sends the browser to its page.
func TestPreviewAndRunNow(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	c := b.client(t).signedIn(b.operator)
	p := c.post("/syncs/cart-abandoners/preview", "/syncs/cart-abandoners/preview", nil)
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `<span class="dry">dry run</span>`)
	require.Contains(t, p.body, "would be sent to Google Ads (google)")
	require.NotContains(t, p.body, "report.json", "a plan is not recorded: nothing to download")
	require.Contains(t, p.body, "started by ops (web)", "the plan's report names who asked for it")
	runs, err := b.svc.Runs(t.Context(), "", 10)
	require.NoError(t, err)
	require.Empty(t, runs, "a preview records no run")

	loc := "/runs/" + c.runNow("cart-abandoners", url.Values{"full_refresh": {"1"}})
	run := c.get(loc)
	require.Contains(t, run.body, "started by ops (web)")
	require.Contains(t, run.body, "full refresh")
	require.Contains(t, c.get("/syncs/cart-abandoners").body, "ops (web)")

	// The live stream of a finished run says done at once.
	ev := c.get(loc + "/live")
	require.Equal(t, "text/event-stream", ev.header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(ev.body, "event: done\n"), ev.body)
}

// A run already running is not started twice: the page says so.
func TestRunNowBusy(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	srv := httptest.NewServer(web.New(web.Options{Service: b.svc, Tokens: b.tokens,
		Trigger: func(_ context.Context, sync string, _ syncs.RunOptions) (*report.Report, error) {
			return nil, &syncs.BusyError{Sync: sync}
		}}))
	defer srv.Close()
	b.srv = srv
	c := b.client(t).signedIn(b.operator)
	p := c.post("/syncs/cart-abandoners/run", "/syncs/cart-abandoners/run", nil)
	require.Equal(t, http.StatusConflict, p.status, p.body)
	require.Contains(t, p.body, "running already")
}

// A skipped tick (recorded by the daemon while a run goes on) does not
// hide the sync's last real run on the overview; sizes come with their
// change since the run before.
func TestOverviewPassesOverSkippedTicks(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	cart, _ := b.runBoth(t)
	at := time.Now().Add(time.Second)
	require.NoError(t, b.store.BeginRun(t.Context(), state.Run{ID: "skipped-tick", Sync: "cart-abandoners", Status: "running", Started: at}))
	require.NoError(t, b.store.FinishRun(t.Context(), "skipped-tick", "skipped", at, []byte(`{"status":"skipped"}`), nil))
	c := b.client(t).signedIn(b.viewer)
	p := c.get("/")
	require.Contains(t, p.body, `<a href="/runs/`+cart.RunID+`">`)
	require.NotContains(t, p.body, "skipped-tick")
	require.Contains(t, p.body, `<span class="size">1,917</span>`)
	require.NotContains(t, p.body, "no change", "one run: no change to show yet")
	b.runBoth(t)
	require.Contains(t, c.get("/").body, `<span class="size">1,917</span> <span class="delta">no change</span>`)
}

// A run its process left running (no lock holds it) reads as
// interrupted, with what that means and nothing to download.
func TestInterruptedRunPage(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	require.NoError(t, b.store.BeginRun(t.Context(), state.Run{ID: "crashed", Sync: "cart-abandoners", Status: "running", Started: time.Now(), Owner: "gone-1"}))
	c := b.client(t).signedIn(b.viewer)
	p := c.get("/runs/crashed")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, `<span class="badge s-interrupted">Interrupted</span>`)
	require.Contains(t, p.body, "the next run of cart-abandoners carries on from there")
	require.NotContains(t, p.body, "<noscript><meta http-equiv", "nothing to wait for")
	require.Equal(t, http.StatusNotFound, c.get("/runs/crashed/report.json").status)
	require.Equal(t, http.StatusNotFound, c.get("/runs/crashed/report.csv").status)
	ev := c.get("/runs/crashed/live")
	require.True(t, strings.HasPrefix(ev.body, "event: done\n"), ev.body)
}

// A run in progress shows its progress from the engine's events on the
// server-rendered page, which refreshes itself without JavaScript.
func TestRunInProgressPage(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	hold := &holder{}
	release := hold.arm()
	srv := httptest.NewServer(web.New(web.Options{Service: b.svc, Tokens: b.tokens,
		Trigger: func(ctx context.Context, sync string, opts syncs.RunOptions) (*report.Report, error) {
			opts.Observer = engine.Fanout(opts.Observer, hold)
			return b.svc.Run(ctx, sync, opts)
		}}))
	defer srv.Close()
	b.srv = srv
	c := b.client(t).signedIn(b.operator)
	p := c.post("/syncs/cart-abandoners/run", "/syncs/cart-abandoners/run", nil)
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	loc := p.header.Get("Location")
	var run page
	require.Eventually(t, func() bool {
		run = c.get(loc)
		return strings.Contains(run.body, `<span data-field="read">2,003</span>`)
	}, runWait, 20*time.Millisecond, "the page shows the read so far")
	require.Contains(t, run.body, `<noscript><meta http-equiv="refresh" content="5"></noscript>`)
	require.Contains(t, run.body, `data-live="`+loc+`/live"`)
	require.Regexp(t, `<strong>[a-z/]+</strong>: planned`, run.body, "a destination's plan is in")
	require.Equal(t, http.StatusNotFound, c.get(loc+"/report.json").status, "no report while it runs")
	close(release)
	require.Eventually(t, func() bool { return strings.Contains(c.get(loc).body, `<ul class="summary">`) }, runWait, 50*time.Millisecond)
}

// The overview warns about a sync that has not succeeded within its
// alerts.stale_after, and about one that never has.
func TestOverviewStaleWarning(t *testing.T) {
	t.Parallel()
	path := servetest.Quickstart(t, "..", func(cfg []byte) []byte { return append([]byte("alerts: {stale_after: 1h}\n"), cfg...) })
	// The pages' clock stands 2 h 30 s after the run's end, however long
	// the run takes on a loaded machine (the run itself is on the real
	// clock).
	var later atomic.Int64
	later.Store(time.Now().Add(2*time.Hour + 30*time.Second).UnixNano())
	b := setupWith(t, false, path, func() time.Time { return time.Unix(0, later.Load()) })
	c := b.client(t).signedIn(b.viewer)
	home := c.get("/")
	require.Equal(t, 2, strings.Count(home.body, "Has never succeeded (alert window 1 h)."), home.body)
	rep, err := b.svc.Run(t.Context(), "cart-abandoners", syncs.RunOptions{})
	require.NoError(t, err)
	later.Store(rep.FinishedAt.Add(2*time.Hour + 30*time.Second).UnixNano())
	home = c.get("/")
	require.Contains(t, home.body, "No successful run for 2 h (alert window 1 h).")
	require.Equal(t, 1, strings.Count(home.body, "Has never succeeded"))
	require.Contains(t, c.get("/syncs/cart-abandoners").body, "<dd>1 h</dd>")
}
