package web_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/internal/servetest"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
	"github.com/audiencesync/audiencesync/web"
)

// The browser tests drive Debian's chromium, headless, through chromedp:
// one browser per test binary, started on first use and shared, one tab
// (in a browser context of its own, so cookies do not mix) per test.

var browserState struct {
	once   sync.Once
	ctx    context.Context
	err    error
	cancel func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browserState.cancel != nil {
		browserState.cancel()
	}
	os.Exit(code)
}

// chromiumPath finds Debian's chromium.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// tab opens a tab of the shared browser for t. Without chromium it skips
// with advice, except under CI=true, where it fails.
func tab(t testing.TB) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("the browser tests need Debian's chromium and CI must run them: apt-get install -y chromium (.ci/run installs it)")
		}
		t.Skip("browser test skipped: chromium is not installed; run apt-get install -y chromium to run it")
	}
	s := &browserState
	s.once.Do(func() {
		dir, err := os.MkdirTemp("", "audiencesync-chromium-")
		if err != nil {
			s.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 900),
			// Times must show in the viewer's zone, not the server's UTC.
			chromedp.Env("TZ=Europe/Paris"))
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		s.err = chromedp.Do(bctx)
		s.ctx = bctx
		s.cancel = func() { bcancel(); acancel(); _ = os.RemoveAll(dir) }
	})
	require.NoError(t, s.err, "start chromium")
	ctx, cancel := chromedp.NewContext(s.ctx, chromedp.WithNewBrowserContext())
	ctx, stop := context.WithTimeout(ctx, 2*runWait)
	t.Cleanup(func() { stop(); cancel() })
	return ctx
}

// holder holds a run at its first destination's plan until released, so
// a test can watch the page of a run in progress.
type holder struct {
	mu      sync.Mutex
	armed   bool
	release chan struct{}
}

func (h *holder) Observe(ev engine.Event) {
	if _, ok := ev.(engine.DestinationPlanned); !ok {
		return
	}
	h.mu.Lock()
	armed, release := h.armed, h.release
	h.armed = false
	h.mu.Unlock()
	if armed {
		<-release
	}
}

func (h *holder) arm() chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed, h.release = true, make(chan struct{})
	return h.release
}

// served is a real daemon on loopback serving the web UI, as `serve`
// builds it, on a quickstart config in a temp dir.
type served struct {
	d        *daemon.Daemon
	base     string
	dir      string
	hold     *holder
	viewer   string
	operator string
}

// serveQuickstart starts the daemon. Unless keepSchedules, the syncs'
// schedules are moved to once a year, so no tick runs during a test.
func serveQuickstart(t testing.TB, keepSchedules bool) *served {
	t.Helper()
	cfgPath := quickstart(t)
	if !keepSchedules {
		raw, err := os.ReadFile(cfgPath)
		require.NoError(t, err)
		cfg := strings.NewReplacer(`schedule: "* * * * *"`, `schedule: "0 0 1 1 *"`, `schedule: "*/5 8-20 * * *"`, `schedule: "0 0 1 1 *"`).Replace(string(raw))
		require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	}
	return serveConfig(t, cfgPath, nil)
}

// serveConfig starts the daemon on the config at cfgPath, its runs on
// the clock runNow (nil: the real one).
func serveConfig(t testing.TB, cfgPath string, runNow func() time.Time) *served {
	t.Helper()
	s := &served{dir: filepath.Dir(cfgPath), hold: &holder{}}
	sessions, live := web.NewSessions(0), web.NewLive()
	d, err := daemon.New(t.Context(), daemon.Options{
		Open: func(ctx context.Context) (*syncs.Service, error) {
			return syncs.Open(ctx, syncs.Options{ConfigPath: cfgPath, CheckFiles: true, Now: runNow})
		},
		Logger:   zap.NewNop(),
		Observer: engine.Fanout(live, s.hold),
		Web: func(dep daemon.APIDeps) http.Handler {
			tokens, err := dep.Service.Tokens(t.Context())
			require.NoError(t, err)
			return web.New(web.Options{Service: dep.Service, Tokens: tokens, Logger: dep.Logger, Trigger: dep.Trigger,
				NextRun: dep.NextRun, Sessions: sessions, Live: live})
		},
	})
	require.NoError(t, err)
	s.d = d
	tokens, err := d.Service().Tokens(t.Context())
	require.NoError(t, err)
	s.viewer = createToken(t, tokens, "marketing", api.RoleViewer)
	s.operator = createToken(t, tokens, "ops", api.RoleOperator)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	s.base = "http://" + ln.Addr().String()
	return s
}

// run runs a sync through the daemon, as a scheduled tick would.
func (s *served) run(t testing.TB, sync string) *report.Report {
	t.Helper()
	rep, err := s.d.Trigger(t.Context(), sync, syncs.RunOptions{})
	require.NoError(t, err)
	return rep
}

// keepRows rewrites the quickstart CSV with every n-th data row left out
// (0 keeps all), so the next run removes them.
func (s *served) keepRows(t testing.TB, n int) {
	t.Helper()
	data, err := os.ReadFile("../configs/quickstart/contacts.csv")
	require.NoError(t, err)
	lines := strings.SplitAfter(string(data), "\n")
	var b strings.Builder
	for i, l := range lines {
		if n > 0 && i > 0 && i%n == 0 {
			continue
		}
		b.WriteString(l)
	}
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "quickstart", "contacts.csv"), []byte(b.String()), 0o600))
}

func text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err, sel)
	return strings.TrimSpace(v)
}

func eval[T any](t testing.TB, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	require.NoError(t, err, js)
	return v
}

func location(t testing.TB, ctx context.Context) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	return v
}

// html returns the page's whole HTML as the browser holds it, scripts'
// changes included.
func html(t testing.TB, ctx context.Context) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	require.NoError(t, err)
	return v
}

// signIn fills the sign-in form the browser was sent to and waits for
// the page after it.
func signIn(t testing.TB, ctx context.Context, token, then string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS("form.login button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(then))))
}

// A viewer signs in, reads the overview and a run's numbers in their own
// time zone, finds no contact's e-mail address on any page, moves with
// the keyboard, reads the overview on a phone, and signs out.
func TestBrowserSignInReadRunAndSignOut(t *testing.T) {
	t.Parallel()
	s := serveQuickstart(t, false)
	cart := s.run(t, "cart-abandoners")
	s.run(t, "newsletter-subscribers")
	ctx := tab(t)
	emails := fixtureEmails(t)
	checkPage := func(where string) {
		requireNoContactData(t, where, html(t, ctx), emails)
	}

	// A link to a run opens the sign-in form, then the run.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+"/runs/"+cart.RunID)))
	require.Contains(t, location(t, ctx), "/login?next=")
	checkPage("sign-in")
	signIn(t, ctx, s.viewer, "dl.figures")
	require.Equal(t, s.base+"/runs/"+cart.RunID, location(t, ctx))
	require.Equal(t, "2,003", text(t, ctx, `[data-figure="read"]`))
	require.Equal(t, "1,980", text(t, ctx, `[data-figure="valid"]`))
	require.Equal(t, "19", text(t, ctx, `[data-figure="duplicates"]`))
	require.Equal(t, "4", text(t, ctx, `[data-figure="rejected"]`))
	summary := text(t, ctx, "ul.summary")
	require.Contains(t, summary, "contacts sent to Google Ads (google), 0 removed; 204 rejected, mostly malformed e-mail addresses.")
	require.Equal(t, "1,917", text(t, ctx, `tr[data-dest="google"] [data-figure="added"]`))
	// Times: the server's UTC, converted by the script to the viewer's zone.
	shown := text(t, ctx, ".runhead time")
	require.NotContains(t, shown, "UTC")
	require.Regexp(t, `GMT\+1|CET`, shown)
	require.Contains(t, text(t, ctx, "footer"), "Europe/Paris")
	checkPage("run")

	// The overview: one row per sync, sizes with separators.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS("table.overview"))))
	rows := eval[int](t, ctx, `document.querySelectorAll("table.overview tbody tr").length`)
	require.Equal(t, 2, rows)
	require.Contains(t, text(t, ctx, "table.overview tbody tr"), "1,917")
	require.Contains(t, text(t, ctx, "table.overview tbody tr .badge"), "Succeeded")
	checkPage("overview")
	// The keyboard: the first Tab reaches the skip link, visibly.
	require.NoError(t, chromedp.Do(ctx, chromedp.KeyEvent("\t")))
	require.Equal(t, "skip", eval[string](t, ctx, `document.activeElement.className`))
	require.NotEqual(t, "none", eval[string](t, ctx, `getComputedStyle(document.activeElement).outlineStyle`))
	for _, p := range []string{"/syncs/cart-abandoners", "/syncs/newsletter-subscribers", "/runs/" + cart.RunID + "/report.csv"} {
		if strings.HasSuffix(p, ".csv") {
			continue // a download, not a page: its content is checked in TestRunPageReadsTheReport
		}
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+p), chromedp.WaitVisible(chromedp.CSS("#h-runs"))))
		checkPage(p)
	}

	// A phone: the page itself does not scroll sideways.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(375, 800), chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.CSS("table.overview"))))
	require.LessOrEqual(t, eval[int](t, ctx, `document.documentElement.scrollWidth`), 375)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+"/runs/"+cart.RunID), chromedp.WaitVisible(chromedp.CSS("dl.figures"))))
	require.LessOrEqual(t, eval[int](t, ctx, `document.documentElement.scrollWidth`), 375)
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))

	// Sign out: the session is over.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("header form button")), chromedp.WaitVisible(chromedp.CSS("form.login"))))
	require.Contains(t, text(t, ctx, "main"), "You are signed out.")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+"/syncs/cart-abandoners"), chromedp.WaitVisible(chromedp.CSS("form.login"))))
	require.Contains(t, location(t, ctx), "/login")
}

// An operator previews (a report marked dry run), has a forged run
// refused (from a script without the CSRF token, and from a form on
// another origin), and runs now: the run's page follows its progress
// without reloading, then shows the report.
func TestBrowserPreviewRunNowAndCSRF(t *testing.T) {
	t.Parallel()
	s := serveQuickstart(t, false)
	s.run(t, "cart-abandoners")
	ctx := tab(t)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+"/syncs/cart-abandoners")))
	signIn(t, ctx, s.operator, "#h-runs")

	// Preview, behind its confirmation.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/syncs/cart-abandoners/preview"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/syncs/cart-abandoners/preview"]`)),
		chromedp.Click(chromedp.CSS(`form button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(".dry"))))
	require.Equal(t, "dry run", text(t, ctx, ".dry"))
	require.Contains(t, text(t, ctx, "ul.summary"), "Nothing to change in Google Ads (google)")
	require.Contains(t, text(t, ctx, ".runhead"), "Preview (dry run)")
	requireNoContactData(t, "preview", html(t, ctx), fixtureEmails(t))

	svc := s.d.Service()
	before, err := svc.Runs(t.Context(), "", 100)
	require.NoError(t, err)
	// A forged POST from this origin without the token.
	status := eval[int](t, ctx, `fetch("/syncs/cart-abandoners/run", {method: "POST", body: new URLSearchParams({full_refresh: "1"})}).then(r => r.status)`)
	require.Equal(t, http.StatusForbidden, status)
	// A form on another site that posts to the run action.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/syncs/cart-abandoners/run"><input name="force" value="1"></form>
<script>document.getElementById("f").submit()</script>`, s.base)
	}))
	defer evil.Close()
	// Same site (127.0.0.1, another port): the cookie goes along, and the
	// missing CSRF token refuses the request.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(evil.URL)))
	require.Eventually(t, func() bool { return strings.HasPrefix(location(t, ctx), s.base+"/syncs/cart-abandoners/run") }, 20*time.Second, 50*time.Millisecond)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("main h1"))))
	require.Contains(t, text(t, ctx, "main"), "Request refused")
	// Another site (localhost): SameSite keeps the cookie home, so the
	// post arrives signed out and is sent to sign in (which, on the GET
	// that follows, knows the viewer again and goes on to the overview).
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1))))
	require.Eventually(t, func() bool {
		loc := location(t, ctx)
		return loc == s.base+"/" || strings.HasPrefix(loc, s.base+"/login")
	}, 20*time.Second, 50*time.Millisecond)
	after, err := svc.Runs(t.Context(), "", 100)
	require.NoError(t, err)
	require.Len(t, after, len(before), "no forged request started a run")

	// Run now, held at its first plan so its page is seen in progress.
	release := s.hold.arm()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/syncs/cart-abandoners/run"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/syncs/cart-abandoners/run"]`)),
		chromedp.Click(chromedp.CSS(`form button.primary`)),
		chromedp.WaitVisible(chromedp.CSS("section.live"))))
	require.Contains(t, location(t, ctx), "/runs/")
	eval[bool](t, ctx, `window.stayed = true`)
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('[data-field="read"]').textContent === "2,003"`,
		chromedp.WithPollingTimeout(runWait)))
	require.NoError(t, err, "live progress reaches the page")
	require.True(t, eval[bool](t, ctx, `window.stayed === true`), "without a reload")
	require.Contains(t, text(t, ctx, `[data-field="step"]`), "lanning")
	close(release)
	// The page reloads itself when the run ends: poll across the reload.
	require.Eventually(t, func() bool {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("ul.summary") !== null`))
		return err == nil && ok
	}, runWait, 100*time.Millisecond, "the page shows the report once the run ends")
	require.Contains(t, text(t, ctx, ".runhead"), "Succeeded")
	require.Contains(t, text(t, ctx, ".runhead"), "started by ops (web)")
	requireNoContactData(t, "run now", html(t, ctx), fixtureEmails(t))
}

// The size chart has one point per run that succeeded on the
// destination, and the sizes follow the source.
func TestBrowserChartOnePointPerRun(t *testing.T) {
	t.Parallel()
	s := serveQuickstart(t, false)
	s.run(t, "cart-abandoners")
	s.keepRows(t, 50)
	s.run(t, "cart-abandoners")
	s.keepRows(t, 0)
	s.run(t, "cart-abandoners")
	ctx := tab(t)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+"/syncs/cart-abandoners")))
	signIn(t, ctx, s.viewer, "#h-runs")
	points, err := s.d.Service().SizeHistory(t.Context(), "cart-abandoners", "google", 0)
	require.NoError(t, err)
	require.Len(t, points, 3)
	require.Equal(t, 3, eval[int](t, ctx, `document.querySelectorAll("figure.chartbox")[0].querySelectorAll("circle.pt").length`))
	require.Equal(t, 3, eval[int](t, ctx, `document.querySelectorAll("figure.chartbox")[0].querySelectorAll("table.points tbody tr").length`))
	require.Equal(t, 3, eval[int](t, ctx, `document.querySelectorAll("table.history tbody tr").length`))
	tips := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("figure.chartbox")[0].querySelectorAll("circle.pt title"), e => e.textContent)`)
	require.Len(t, tips, 3)
	require.Contains(t, tips[0], num(points[0].Members)+" members")
	require.Less(t, points[1].Members, points[0].Members, "the second run removed rows")
	require.Contains(t, tips[1], num(points[1].Members)+" members")
	// The script shows the chart's times in the viewer's zone too.
	for _, tip := range tips {
		require.NotContains(t, tip, "UTC", "a point's tip in the viewer's zone")
	}
	axis := eval[string](t, ctx, `document.querySelectorAll("figure.chartbox")[0].querySelector("text[data-axis-zone]").textContent`)
	require.Contains(t, axis, "Europe/Paris")
	start := eval[string](t, ctx, `document.querySelectorAll("figure.chartbox")[0].querySelector("text[data-time]").textContent`)
	local := points[0].Finished.In(paris(t))
	require.True(t, strings.Contains(start, local.Format("15:04")) || strings.Contains(start, local.Format("03:04 PM")),
		"the axis's first date %q in Paris time (%s)", start, local.Format("15:04"))
}

// paris is the browser tests' time zone (their TZ).
func paris(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	return loc
}

// TestScreenshots writes docs/screenshots/*.png from a served quickstart
// with a few runs: `make screenshots` sets AUDIENCESYNC_SCREENSHOTS to
// the directory.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("AUDIENCESYNC_SCREENSHOTS")
	if dir == "" {
		t.Skip("set AUDIENCESYNC_SCREENSHOTS=DIR (make screenshots) to write the screenshots")
	}
	s := serveQuickstart(t, true)
	for _, keep := range []int{0, 40, 0, 25, 0} {
		s.keepRows(t, keep)
		s.run(t, "cart-abandoners")
		s.run(t, "newsletter-subscribers")
	}
	runs, err := s.d.Service().Runs(t.Context(), "cart-abandoners", 1)
	require.NoError(t, err)
	ctx := tab(t)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+"/")))
	signIn(t, ctx, s.operator, "table.overview")
	for _, shot := range []struct{ name, path, wait string }{
		{"overview", "/", "table.overview"},
		{"sync", "/syncs/cart-abandoners", "#h-runs"},
		{"run", "/runs/" + runs[0].ID, "dl.figures"},
	} {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+shot.path), chromedp.WaitVisible(chromedp.CSS(shot.wait))))
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, shot.name+".png"), png, 0o644))
	}
	// A segmented run: stages, moves, suppression.
	seg, rep := serveSegments(t)
	segCtx := tab(t)
	require.NoError(t, chromedp.Do(segCtx, chromedp.Navigate(seg.base+"/runs/"+rep.RunID)))
	signIn(t, segCtx, seg.operator, "table.moves")
	png, err := chromedp.Run(segCtx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "run-segments.png"), png, 0o644))
	// The run page on a phone.
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2)),
		chromedp.Navigate(s.base+"/runs/"+runs[0].ID), chromedp.WaitVisible(chromedp.CSS("dl.figures"))))
	png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "run-phone.png"), png, 0o644))
}

// serveSegments serves the segments quickstart with its holdout key
// fixed, runs it at the export's instant and three days on (members
// move stage), and returns the second run's report.
func serveSegments(t testing.TB) (*served, *report.Report) {
	t.Helper()
	clock := newRunClock()
	s := serveConfig(t, servetest.Segments(t, ".."), clock.now)
	tokens, err := s.d.Service().Tokens(t.Context())
	require.NoError(t, err)
	servetest.FixHoldoutKey(t, tokens, "retargeting")
	s.run(t, "retargeting")
	clock.set(72 * time.Hour)
	return s, s.run(t, "retargeting")
}

// A marketer opens a segmented run: the moves table reads 161 members
// from the first cart stage to the second on Google and on Meta, each
// segment's card shows its figures, and no e-mail address of the CRM or
// the shop export is on the page.
func TestBrowserSegmentedRun(t *testing.T) {
	t.Parallel()
	s, rep := serveSegments(t)
	ctx := tab(t)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.base+"/runs/"+rep.RunID)))
	signIn(t, ctx, s.viewer, "table.moves")
	rows := eval[[][]string](t, ctx, `Array.from(document.querySelectorAll("table.moves tbody tr"), r => Array.from(r.cells, c => c.textContent.trim()))`)
	require.Equal(t, [][]string{
		{"abandoned-0-3d", "→", "abandoned-4-14d", "cart", "google", "161"},
		{"abandoned-0-3d", "→", "abandoned-4-14d", "cart", "meta", "161"},
	}, rows)
	require.Equal(t, "82", text(t, ctx, `[data-segment="abandoned-0-3d"] [data-figure="matched"]`))
	require.Equal(t, "58", text(t, ctx, `[data-segment="abandoned-0-3d"] [data-figure="members"]`))
	require.Equal(t, "648", text(t, ctx, `[data-segment="abandoned-4-14d"] [data-figure="members"]`))
	require.Contains(t, text(t, ctx, "ul.summary"), "161 moved from abandoned-0-3d to abandoned-4-14d (on google and meta).")
	requireNoContactData(t, "segmented run", html(t, ctx), append(fixtureEmails(t), shopEmails(t)...))
}
