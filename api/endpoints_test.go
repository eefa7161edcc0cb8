package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// TestOpenAPIMatchesRoutes: every registered route is in the document,
// with the role it needs, and the document has no other operation.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	v, err := decodeJSON(api.OpenAPI())
	require.NoError(t, err)
	d := doc(v.(map[string]any))
	require.Equal(t, "3.1.0", d["openapi"])
	var documented, registered []string
	for path, item := range d["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			role, _ := op.(map[string]any)["x-audiencesync-role"].(string)
			documented = append(documented, fmt.Sprintf("%s %s %s", strings.ToUpper(method), path, role))
		}
	}
	for _, rt := range api.Routes() {
		registered = append(registered, fmt.Sprintf("%s %s %s", rt.Method, rt.Path, rt.Role))
	}
	sort.Strings(documented)
	sort.Strings(registered)
	require.Equal(t, registered, documented)

	// Every reference resolves and every schema uses only what the
	// checker checks.
	for name, s := range d["components"].(map[string]any)["schemas"].(map[string]any) {
		checkSchema(t, d, name, s.(map[string]any))
	}
}

// checkSchema walks s and fails on unknown keywords and dangling refs.
func checkSchema(t *testing.T, d doc, at string, s map[string]any) {
	t.Helper()
	for k, v := range s {
		require.Contains(t, knownKeywords, k, "%s: keyword %q", at, k)
		switch k {
		case "$ref":
			_, err := d.lookup(v.(string))
			require.NoError(t, err, at)
		case "properties":
			for name, p := range v.(map[string]any) {
				checkSchema(t, d, at+"."+name, p.(map[string]any))
			}
		case "items":
			checkSchema(t, d, at+"[]", v.(map[string]any))
		case "additionalProperties":
			if sub, ok := v.(map[string]any); ok {
				checkSchema(t, d, at+".*", sub)
			}
		}
	}
}

// TestServedDocument: the document is served without a token.
func TestServedDocument(t *testing.T) {
	t.Parallel()
	b := setup(t, false, nil)
	resp := b.call(t, "GET", "/api/v1/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.JSONEq(t, string(api.OpenAPI()), string(resp.raw))
}

// TestEndpoints runs the quickstart sync through the API and reads every
// endpoint back; each answer is checked against the document by call.
func TestEndpoints(t *testing.T) {
	t.Parallel()
	next := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	b := setup(t, false, func(o *api.Options) {
		o.NextRun = func(sync string) (time.Time, bool) { return next, sync == "cart-abandoners" }
	})

	// Before any run: syncs with no sizes and no last run.
	resp := b.call(t, "GET", "/api/v1/syncs", b.viewer, nil)
	require.Equal(t, http.StatusOK, resp.status)
	list := resp.field(t, "syncs").([]any)
	require.Len(t, list, 2)
	first := list[0].(map[string]any)
	require.Equal(t, "cart-abandoners", first["name"])
	require.Equal(t, "* * * * *", first["schedule"], "the quickstart runs every minute under serve")
	require.Equal(t, "2026-12-01T18:00:00Z", first["next_run"])
	require.Equal(t, map[string]any{"connection": "crm_export", "type": "csv"}, first["source"])
	require.NotContains(t, first, "last_run")
	second := list[1].(map[string]any)
	require.NotContains(t, second, "next_run", "NextRun said false")
	require.Equal(t, "hubspot", second["source"].(map[string]any)["type"])

	// A plan: the report, status planned, nothing recorded.
	resp = b.call(t, "POST", "/api/v1/syncs/cart-abandoners/plan", b.operator, nil)
	require.Equal(t, http.StatusOK, resp.status, "%s", resp.raw)
	require.Equal(t, "planned", resp.field(t, "status"))
	require.Equal(t, true, resp.field(t, "dry_run"))
	require.Equal(t, "api:ci", resp.field(t, "started_by"), "the plan names the operator token")
	resp = b.call(t, "GET", "/api/v1/runs", b.viewer, nil)
	require.Empty(t, resp.field(t, "runs"), "a plan is not recorded")

	// A run, waited for; then one started and polled, as the UI does.
	firstID := b.runOnce(t, "cart-abandoners")
	resp = b.call(t, "POST", "/api/v1/syncs/cart-abandoners/runs", b.operator, map[string]any{"full_refresh": true})
	require.Equal(t, http.StatusAccepted, resp.status, "%s", resp.raw)
	secondID := resp.field(t, "run_id").(string)
	require.Equal(t, "/api/v1/runs/"+secondID, resp.header.Get("Location"))
	require.Equal(t, "running", resp.field(t, "status"))
	run := b.waitRun(t, secondID)
	require.Equal(t, "succeeded", run.field(t, "status"))
	require.Equal(t, "api:ci", run.field(t, "started_by"), "the token's name, never the token")
	dests := run.field(t, "destinations").([]any)
	require.Len(t, dests, 8, "google, meta, x, linkedin, mailchimp and the three export profiles")
	google := dests[0].(map[string]any)
	require.Equal(t, "google", google["name"])
	require.Equal(t, "1917", fmt.Sprint(google["members"]))

	// The report as stored, and the full refresh it did.
	resp = b.call(t, "GET", "/api/v1/runs/"+secondID+"/report", b.viewer, nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, true, resp.field(t, "full_refresh"))
	stored, err := b.store.Run(t.Context(), secondID)
	require.NoError(t, err)
	require.JSONEq(t, string(stored.Report), string(resp.raw))
	require.Equal(t, "api:ci", stored.StartedBy)
	require.NotContains(t, string(stored.Report), b.operator, "no token in the report")

	// Rejected rows: reasons, counts, line numbers.
	resp = b.call(t, "GET", "/api/v1/runs/"+firstID+"/rejected", b.viewer, nil)
	require.Equal(t, http.StatusOK, resp.status)
	reasons := resp.field(t, "reasons").([]any)
	require.Equal(t, map[string]any{"reason": "row.malformed", "count": jsonN(3), "lines": []any{jsonN(501), jsonN(1201), jsonN(1801)}}, reasons[0])
	require.Equal(t, map[string]any{"reason": "key.conflict", "count": jsonN(1), "lines": []any{jsonN(1254)}}, reasons[1])
	require.Equal(t, jsonN(4), resp.field(t, "rejected"))
	destRej := resp.field(t, "destinations").([]any)[0].(map[string]any)
	require.Equal(t, "google", destRej["name"])
	require.Equal(t, "email.malformed", destRej["reasons"].([]any)[0].(map[string]any)["reason"])
	require.NotContains(t, string(resp.raw), "@", "no contact data")

	// Listings: newest first, with the sync's last run and sizes.
	resp = b.call(t, "GET", "/api/v1/runs?sync=cart-abandoners", b.viewer, nil)
	runs := resp.field(t, "runs").([]any)
	require.Len(t, runs, 2)
	require.Equal(t, secondID, runs[0].(map[string]any)["id"])
	require.NotContains(t, resp.body, "next_cursor")
	resp = b.call(t, "GET", "/api/v1/syncs/cart-abandoners", b.viewer, nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, secondID, resp.field(t, "last_run.id"))
	require.Equal(t, "succeeded", resp.field(t, "last_run.status"))
	sizes := map[string]string{}
	for _, d := range resp.field(t, "destinations").([]any) {
		for _, s := range d.(map[string]any)["sizes"].([]any) {
			sm := s.(map[string]any)
			sizes[sm["name"].(string)] = fmt.Sprint(sm["members"])
			require.Equal(t, secondID, sm["run_id"])
		}
	}
	require.Equal(t, map[string]string{"google": "1917", "meta": "1917", "x": "1881", "linkedin": "1722", "mailchimp": "1722",
		"exports/google": "1917", "exports/meta": "1917", "exports/x": "1881"}, sizes)

	// Size history: one point per run, for a destination and a profile.
	for _, dest := range []string{"google", "exports%2Fx"} {
		resp = b.call(t, "GET", "/api/v1/syncs/cart-abandoners/destinations/"+dest+"/sizes", b.viewer, nil)
		require.Equal(t, http.StatusOK, resp.status, dest)
		points := resp.field(t, "points").([]any)
		require.Len(t, points, 2, dest)
		require.Equal(t, firstID, points[0].(map[string]any)["run_id"], "oldest first")
	}
	resp = b.call(t, "GET", "/api/v1/syncs/cart-abandoners/destinations/google/sizes?limit=1", b.viewer, nil)
	require.Len(t, resp.field(t, "points").([]any), 1)
	require.Equal(t, secondID, resp.field(t, "points").([]any)[0].(map[string]any)["run_id"], "the newest point")
}

func jsonN(n int) any {
	v, _ := decodeJSON([]byte(fmt.Sprint(n)))
	return v
}

// seedRuns records n runs of syncs a, b and c taking turns, a minute
// apart, most of them finished: succeeded, with every fifth failed.
func seedRuns(t testing.TB, log state.RunLog, n int, base time.Time) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("run-%03d", i)
		sync := []string{"cart-abandoners", "newsletter-subscribers", "other"}[i%3]
		started := base.Add(time.Duration(i) * time.Minute)
		require.NoError(t, log.BeginRun(t.Context(), state.Run{ID: id, Sync: sync, Status: "running", Started: started}))
		st := "succeeded"
		if i%5 == 0 {
			st = "failed"
		}
		rep := fmt.Sprintf(`{"run_id":%q,"sync":%q,"status":%q,"started_at":%q,"finished_at":%q,"source":{"read":10,"valid":9,"duplicates":0,"rejected":{"row.malformed":1}},"destinations":[]}`,
			id, sync, st, started.Format(time.RFC3339), started.Add(time.Second).Format(time.RFC3339))
		require.NoError(t, log.FinishRun(t.Context(), id, st, started.Add(time.Second), []byte(rep),
			[]state.Summary{{Destination: "google", Status: st, Members: int64(i), Started: started, Finished: started.Add(time.Second)}}))
	}
}

// TestRunsFilterAndPaging: the runs listing's filters and cursor, and the
// statuses derived for runs a crash left running.
func TestRunsFilterAndPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, false, nil)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seedRuns(t, b.store, 30, base)
	// A run left running with no lock held: interrupted.
	require.NoError(t, b.store.BeginRun(t.Context(), state.Run{ID: "run-crashed", Sync: "other", Status: "running", Started: base.Add(time.Hour), Owner: "gone"}))

	ids := func(resp response) []string {
		var out []string
		for _, r := range resp.field(t, "runs").([]any) {
			out = append(out, r.(map[string]any)["id"].(string))
		}
		return out
	}
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"limit", "limit=3", []string{"run-crashed", "run-029", "run-028"}},
		{"sync", "sync=newsletter-subscribers&limit=2", []string{"run-028", "run-025"}},
		{"status", "status=failed&since=2026-01-01T00:10:00Z", []string{"run-025", "run-020", "run-015", "run-010"}},
		{"statuses", "status=failed,interrupted&limit=3", []string{"run-crashed", "run-025", "run-020"}},
		{"repeated status", "status=failed&status=interrupted&limit=2", []string{"run-crashed", "run-025"}},
		{"interrupted is not running", "status=running", nil},
		{"time range", "since=2026-01-01T00:03:00Z&until=2026-01-01T00:06:00Z", []string{"run-005", "run-004", "run-003"}},
		{"sync and status", "sync=cart-abandoners&status=succeeded&until=2026-01-01T00:10:00Z", []string{"run-009", "run-006", "run-003"}},
	}
	for _, tt := range tests {
		resp := b.call(t, "GET", "/api/v1/runs?"+tt.query, b.viewer, nil)
		require.Equal(t, http.StatusOK, resp.status, tt.name)
		require.Equal(t, tt.want, ids(resp), tt.name)
	}
	resp := b.call(t, "GET", "/api/v1/runs/run-crashed", b.viewer, nil)
	require.Equal(t, "interrupted", resp.field(t, "status"))
	require.Equal(t, true, resp.field(t, "interrupted"))

	// Paging: every run once, in order, however the pages fall.
	var paged []string
	next := "/api/v1/runs?limit=7"
	for pages := 0; next != ""; pages++ {
		require.Less(t, pages, 10)
		resp := b.call(t, "GET", next, b.viewer, nil)
		paged = append(paged, ids(resp)...)
		next = ""
		if c, ok := resp.body.(map[string]any)["next_cursor"].(string); ok {
			next = "/api/v1/runs?limit=7&cursor=" + c
		}
	}
	all := b.call(t, "GET", "/api/v1/runs?limit=500", b.viewer, nil)
	require.Len(t, paged, 31)
	require.Equal(t, ids(all), paged)
}

// TestProblems: errors are problem+json with a documented type.
func TestProblems(t *testing.T) {
	t.Parallel()
	reloadErr := errors.New("configs/x.yaml:3: unknown key \"sched\"")
	var reloads int
	b := setup(t, false, func(o *api.Options) {
		o.Reload = func(context.Context) error {
			reloads++
			if reloads == 1 {
				return reloadErr
			}
			return nil
		}
	})
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// A run in progress: its owner holds the sync's lock.
	_, err := b.store.AcquireLock(t.Context(), state.Lock{Name: "sync:other", Owner: "me", Expires: time.Now().Add(time.Hour)}, time.Now())
	require.NoError(t, err)
	require.NoError(t, b.store.BeginRun(t.Context(), state.Run{ID: "run-live", Sync: "other", Status: "running", Started: started, Owner: "me"}))
	require.NoError(t, b.store.BeginRun(t.Context(), state.Run{ID: "run-dead", Sync: "gone", Status: "running", Started: started, Owner: "x"}))

	tests := []struct {
		name, method, path string
		body               any
		status             int
		typ                string
	}{
		{"unknown sync", "GET", "/api/v1/syncs/nope", nil, 404, "not-found"},
		{"unknown destination", "GET", "/api/v1/syncs/cart-abandoners/destinations/nope/sizes", nil, 404, "not-found"},
		{"unknown run", "GET", "/api/v1/runs/nope", nil, 404, "not-found"},
		{"unknown run's report", "GET", "/api/v1/runs/nope/report", nil, 404, "not-found"},
		{"report of a running run", "GET", "/api/v1/runs/run-live/report", nil, 409, "run-in-progress"},
		{"report of an interrupted run", "GET", "/api/v1/runs/run-dead/report", nil, 404, "no-report"},
		{"rejected of a running run", "GET", "/api/v1/runs/run-live/rejected", nil, 409, "run-in-progress"},
		{"bad limit", "GET", "/api/v1/runs?limit=0", nil, 400, "bad-request"},
		{"limit too large", "GET", "/api/v1/runs?limit=501", nil, 400, "bad-request"},
		{"bad status", "GET", "/api/v1/runs?status=done", nil, 400, "bad-request"},
		{"bad time", "GET", "/api/v1/runs?since=yesterday", nil, 400, "bad-request"},
		{"bad cursor", "GET", "/api/v1/runs?cursor=xyz", nil, 400, "bad-request"},
		{"bad size limit", "GET", "/api/v1/syncs/cart-abandoners/destinations/google/sizes?limit=-1", nil, 400, "bad-request"},
		{"unknown body field", "POST", "/api/v1/syncs/cart-abandoners/runs", map[string]any{"dry_run": true}, 400, "bad-request"},
		{"trigger unknown sync", "POST", "/api/v1/syncs/nope/runs", nil, 404, "not-found"},
		{"plan unknown sync", "POST", "/api/v1/syncs/nope/plan", nil, 404, "not-found"},
		{"unknown endpoint", "GET", "/api/v1/nothing", nil, 404, "not-found"},
		{"wrong method", "DELETE", "/api/v1/runs/run-live", nil, 405, "method-not-allowed"},
		{"reload rejected", "POST", "/api/v1/reload", nil, 422, "reload-rejected"},
	}
	for _, tt := range tests {
		resp := b.call(t, tt.method, tt.path, b.operator, tt.body)
		require.Equal(t, tt.status, resp.status, "%s: %s", tt.name, resp.raw)
		require.Equal(t, "application/problem+json", resp.header.Get("Content-Type"), tt.name)
		require.Equal(t, "urn:audiencesync:problem:"+tt.typ, resp.field(t, "type"), tt.name)
		require.Equal(t, jsonN(tt.status), resp.field(t, "status"), tt.name)
		require.Equal(t, strings.SplitN(tt.path, "?", 2)[0], resp.field(t, "instance"), tt.name)
		require.NotEmpty(t, resp.field(t, "detail"), tt.name)
	}
	resp := b.call(t, "DELETE", "/api/v1/runs/run-live", b.operator, nil)
	require.Equal(t, "GET", resp.header.Get("Allow"))
	resp = b.call(t, "POST", "/api/v1/reload", b.operator, nil)
	require.Equal(t, http.StatusNoContent, resp.status, "the second reload succeeds")
	require.Contains(t, b.call(t, "POST", "/api/v1/reload", b.viewer, nil).field(t, "detail"), "operator")

	// Without a Reload function: 501.
	plain := setup(t, false, nil)
	resp = plain.call(t, "POST", "/api/v1/reload", plain.operator, nil)
	require.Equal(t, http.StatusNotImplemented, resp.status)
	require.Equal(t, "urn:audiencesync:problem:not-implemented", resp.field(t, "type"))
}

// TestTriggerThroughOptions: a Trigger from the daemon gets the options
// and the API's observer; a busy sync is a 409.
func TestTriggerThroughOptions(t *testing.T) {
	t.Parallel()
	type call struct {
		sync string
		opts syncs.RunOptions
	}
	calls := make(chan call, 4)
	release := make(chan struct{})
	b := setup(t, false, func(o *api.Options) {
		o.Trigger = func(ctx context.Context, sync string, opts syncs.RunOptions) (*report.Report, error) {
			calls <- call{sync, opts}
			if opts.Force {
				return nil, &syncs.BusyError{Sync: sync, Holder: state.Lock{Name: "sync:" + sync, Owner: "other", PID: 42, Host: "h"}}
			}
			opts.Observer.Observe(engine.RunStarted{Run: engine.RunRef{ID: "run-from-daemon", Sync: sync}})
			<-release
			return &report.Report{RunID: "run-from-daemon", Sync: sync, Status: report.StatusSucceeded}, ctx.Err()
		}
	})
	resp := b.call(t, "POST", "/api/v1/syncs/cart-abandoners/runs", b.operator, map[string]any{"full_refresh": true})
	require.Equal(t, http.StatusAccepted, resp.status, "%s", resp.raw)
	require.Equal(t, "run-from-daemon", resp.field(t, "run_id"))
	c := <-calls
	require.Equal(t, "cart-abandoners", c.sync)
	require.True(t, c.opts.FullRefresh)
	require.False(t, c.opts.Force)
	require.Equal(t, "api:ci", c.opts.StartedBy, "the daemon is told the token's name")
	close(release) // the request has been answered; the run goes on detached

	resp = b.call(t, "POST", "/api/v1/syncs/cart-abandoners/runs", b.operator, map[string]any{"force": true})
	require.Equal(t, http.StatusConflict, resp.status, "%s", resp.raw)
	require.Equal(t, "urn:audiencesync:problem:sync-busy", resp.field(t, "type"))
	require.Contains(t, resp.field(t, "detail"), "process 42")
}

// TestAuth: 401 without a valid token, 403 for the wrong role, and the
// open loopback mode while no token exists.
func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, false, nil)
	revoked := createToken(t, b.store, "old", api.RoleOperator)
	_, err := b.store.RevokeToken(t.Context(), "old")
	require.NoError(t, err)
	// The viewer's id with another secret.
	forged := b.viewer[:len(b.viewer)-64] + strings.Repeat("0", 64)

	tests := []struct {
		name, method, path, token string
		status                    int
	}{
		{"no token while tokens exist", "GET", "/api/v1/runs", "", 401},
		{"not a token", "GET", "/api/v1/runs", "hello", 401},
		{"forged secret", "GET", "/api/v1/runs", forged, 401},
		{"revoked", "GET", "/api/v1/runs", revoked, 401},
		{"viewer reads", "GET", "/api/v1/runs", b.viewer, 200},
		{"viewer reads syncs", "GET", "/api/v1/syncs", b.viewer, 200},
		{"viewer may not trigger", "POST", "/api/v1/syncs/cart-abandoners/runs", b.viewer, 403},
		{"viewer may not plan", "POST", "/api/v1/syncs/cart-abandoners/plan", b.viewer, 403},
		{"viewer may not reload", "POST", "/api/v1/reload", b.viewer, 403},
		{"operator reads", "GET", "/api/v1/runs", b.operator, 200},
		{"unauthenticated before not found", "GET", "/api/v1/runs/nope", "", 401},
	}
	for _, tt := range tests {
		resp := b.call(t, tt.method, tt.path, tt.token, nil)
		require.Equal(t, tt.status, resp.status, "%s: %s", tt.name, resp.raw)
		if tt.status == 401 {
			require.True(t, strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer"), tt.name)
			require.Equal(t, "urn:audiencesync:problem:unauthorized", resp.field(t, "type"))
		}
		if tt.status == 403 {
			require.Equal(t, "urn:audiencesync:problem:forbidden", resp.field(t, "type"))
		}
	}
	// A scheme other than Bearer.
	req, err := http.NewRequestWithContext(t.Context(), "GET", b.srv.URL+"/api/v1/runs", nil)
	require.NoError(t, err)
	req.SetBasicAuth("u", b.viewer)
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// Use is recorded.
	list, err := b.store.ListTokens(t.Context())
	require.NoError(t, err)
	used := map[string]bool{}
	for _, tok := range list {
		used[tok.Name] = !tok.LastUsed.IsZero()
	}
	require.Equal(t, map[string]bool{"grafana": true, "ci": true}, used)

	// No token at all: loopback is served, as operator.
	open := setup(t, true, nil)
	r := open.call(t, "GET", "/api/v1/syncs", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	r = open.call(t, "POST", "/api/v1/syncs/cart-abandoners/plan", "", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	require.Equal(t, "api", r.field(t, "started_by"), "no token to name")
	// A token sent anyway must be valid.
	r = open.call(t, "GET", "/api/v1/syncs", "ast_0000000000000000_"+strings.Repeat("0", 64), nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	// Once a token exists, the open mode ends.
	createToken(t, open.store, "first", api.RoleViewer)
	r = open.call(t, "GET", "/api/v1/syncs", "", nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
}

func TestRequireTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr      string
		hasTokens bool
		ok        bool
	}{
		{"127.0.0.1:8080", false, true},
		{"[::1]:8080", false, true},
		{"localhost:8080", false, true},
		{"127.0.0.2:8080", false, true},
		{":8080", false, false},
		{"0.0.0.0:8080", false, false},
		{"192.168.1.4:8080", false, false},
		{"example.com:8080", false, false},
		{":8080", true, true},
		{"0.0.0.0:8080", true, true},
	}
	for _, tt := range tests {
		err := api.RequireTokens(tt.addr, tt.hasTokens)
		if tt.ok {
			require.NoError(t, err, tt.addr)
			continue
		}
		require.Error(t, err, tt.addr)
		require.Contains(t, err.Error(), "audiencesync token create", tt.addr)
	}
}

func TestCheckBind(t *testing.T) {
	t.Parallel()
	b := setup(t, true, nil)
	core, logs := observer.New(zap.WarnLevel)
	require.NoError(t, api.CheckBind(t.Context(), "127.0.0.1:8080", b.store, zap.New(core)))
	require.Equal(t, 1, logs.FilterMessageSnippet("no API token exists").Len(), "open loopback access is logged")
	require.ErrorContains(t, api.CheckBind(t.Context(), ":8080", b.store, zap.New(core)), "token create")
	createToken(t, b.store, "ci", api.RoleOperator)
	require.NoError(t, api.CheckBind(t.Context(), ":8080", b.store, zap.New(core)))
	require.Equal(t, 1, logs.Len(), "nothing more to say once a token exists")
}

func TestNewToken(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 20 {
		tok, rec, err := api.NewToken("ci", api.RoleViewer, time.Now())
		require.NoError(t, err)
		require.Regexp(t, `^ast_[0-9a-f]{16}_[0-9a-f]{64}$`, tok)
		require.True(t, strings.HasPrefix(tok, "ast_"+rec.ID+"_"))
		require.False(t, seen[tok])
		seen[tok] = true
		require.Len(t, rec.Hash, 32)
		require.NotContains(t, string(rec.Hash), tok[21:])
	}
	_, _, err := api.NewToken("x", "admin", time.Now())
	require.ErrorContains(t, err, "viewer")
	_, rec, err := api.NewToken("", api.RoleOperator, time.Now())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(rec.Name, "token-"), "a default name")
	require.True(t, slices.Contains([]string{api.RoleOperator}, rec.Role))
}
