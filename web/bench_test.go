package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
	"github.com/audiencesync/audiencesync/web"
)

// Bench sizes: the target is 100 syncs and 10,000 runs.
const (
	benchSyncs = 100
	benchRuns  = 10000
)

// benchConfig writes a config of n syncs, each from a CSV to Google, Meta
// and X (sandbox connections, never started: the pages only read).
func benchConfig(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	require.NoError(b, os.WriteFile(filepath.Join(dir, "contacts.csv"), []byte("contact_id,email\n"), 0o600))
	var cfg strings.Builder
	cfg.WriteString(`state: {path: ./state.db}
connections:
  crm: {type: csv, path: ./contacts.csv}
  google: {type: google_ads, sandbox: true, operating_account: "1234567890"}
  meta: {type: meta, sandbox: true, ad_account: act_1234567890}
  x: {type: x, sandbox: true, account_id: 18ce54d4x5t}
syncs:
`)
	for i := range n {
		fmt.Fprintf(&cfg, `  - name: sync-%03d
    schedule: "0 */6 * * *"
    source: {connection: crm, key: contact_id, fields: {email: email}}
    destinations:
      - {connection: google, audience: {name: Audience %d}, consent: {ad_user_data: granted, ad_personalization: granted}}
      - {connection: meta, audience: {name: Audience %d}}
      - {connection: x, audience: {name: Audience %d}}
`, i, i, i, i)
	}
	path := filepath.Join(dir, "audiencesync.yaml")
	require.NoError(b, os.WriteFile(path, []byte(cfg.String()), 0o600))
	return path
}

// seedRuns records runs finished runs spread over the syncs, each with a
// report and three destination summaries, and returns the newest run's id.
func seedRuns(b *testing.B, log state.RunLog, syncCount, runs int) string {
	b.Helper()
	base := time.Now().Add(-time.Duration(runs) * time.Minute).UTC()
	var last string
	for i := range runs {
		id := fmt.Sprintf("run-%06d", i)
		sync := fmt.Sprintf("sync-%03d", i%syncCount)
		started := base.Add(time.Duration(i) * time.Minute)
		finished := started.Add(2 * time.Second)
		size := int64(100000 + i)
		rep := report.Report{RunID: id, Sync: sync, Status: report.StatusSucceeded, StartedAt: started, FinishedAt: finished,
			Source: report.Source{Read: size + 300, Valid: size, Duplicates: 100, Rejected: map[string]int64{"row.malformed": 200},
				RejectedLines: map[string][]int64{"row.malformed": {3, 17, 99, 1002, 5000, 7001, 8100, 9000, 9999, 12000}}}}
		var sums []state.Summary
		for _, d := range []string{"google", "meta", "x"} {
			rep.Destinations = append(rep.Destinations, &report.Destination{Name: d, Type: map[string]string{"google": "google_ads"}[d] + d,
				Profile: d, AudienceID: "aud-" + d, Status: report.StatusSucceeded, Members: size,
				Planned: report.Planned{Add: 120, Remove: 20, Unchanged: size - 120},
				Applied: report.Applied{Added: 120, Removed: 20}, Rejected: map[string]int64{"email.malformed": 150, "member.no_identifiers": 4},
				Batches: 1})
			sums = append(sums, state.Summary{Destination: d, Status: "succeeded", Members: size, Started: started, Finished: finished,
				Planned: state.Planned{Add: 120, Remove: 20, Unchanged: size - 120}, Applied: state.Applied{Added: 120, Removed: 20}})
		}
		var body strings.Builder
		require.NoError(b, rep.WriteJSON(&body))
		require.NoError(b, log.BeginRun(b.Context(), state.Run{ID: id, Sync: sync, Status: "running", Started: started}))
		require.NoError(b, log.FinishRun(b.Context(), id, "succeeded", finished, []byte(body.String()), sums))
		last = id
	}
	return last
}

// BenchmarkPages renders the overview, a sync page and a run page on the
// server with 100 syncs and 10,000 runs in a real SQLite state, signed
// in as a viewer. The target is under 100 ms a page (ms/page) and under
// 200 KB (bytes/page).
//
//	go test -run '^$' -bench Pages -benchtime 20x ./web/
func BenchmarkPages(b *testing.B) {
	svc, err := syncs.Open(b.Context(), syncs.Options{ConfigPath: benchConfig(b, benchSyncs)})
	require.NoError(b, err)
	b.Cleanup(func() { _ = svc.Close() })
	tokens, err := svc.Tokens(b.Context())
	require.NoError(b, err)
	lastRun := seedRuns(b, tokens.(state.Store), benchSyncs, benchRuns)
	viewer := createToken(b, tokens, "marketing", api.RoleViewer)
	h := web.New(web.Options{Service: svc, Tokens: tokens,
		NextRun: func(string) (time.Time, bool) { return time.Now().Add(time.Hour), true }})
	cookie := benchSignIn(b, h, viewer)

	for _, page := range []struct{ name, path string }{
		{"overview", "/"},
		{"sync", "/syncs/sync-042"},
		{"run", "/runs/" + lastRun},
	} {
		b.Run(page.name, func(b *testing.B) {
			var bytes int
			start := time.Now()
			for b.Loop() {
				req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, page.path, nil)
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", page.path, rec.Code, rec.Body.String())
				}
				bytes = rec.Body.Len()
			}
			perPage := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64(perPage.Microseconds())/1000, "ms/page")
			b.ReportMetric(float64(bytes), "bytes/page")
		})
	}
}

// benchSignIn signs in through the form, from loopback, and returns the
// session cookie.
func benchSignIn(b *testing.B, h http.Handler, token string) *http.Cookie {
	b.Helper()
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/login", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	anon := rec.Result().Cookies()[0]
	m := csrfField.FindStringSubmatch(rec.Body.String())
	require.NotNil(b, m)
	form := url.Values{"csrf": {m[1]}, "token": {token}}
	req = httptest.NewRequestWithContext(b.Context(), http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "127.0.0.1:40000"
	req.AddCookie(anon)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(b, http.StatusSeeOther, rec.Code, rec.Body.String())
	return rec.Result().Cookies()[0]
}
