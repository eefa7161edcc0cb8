package daemon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/daemon"
	"github.com/audiencesync/audiencesync/internal/servetest"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/syncs"
)

func get(t *testing.T, url string) (int, string) { t.Helper(); return servetest.Get(t, url) }

// /healthz answers while the process is up, /readyz once the config is
// loaded and the store answers, and no longer while shutting down; the
// API factory's handler is mounted under /api/v1 and built again on
// reload with the new service.
func TestHealthReadyAndAPIMount(t *testing.T) {
	t.Parallel()
	b := setup(t, "", "buyers", "* * * * *")
	var built atomic.Int32
	var mu sync.Mutex
	var got []daemon.APIDeps
	b.opts.API = func(deps daemon.APIDeps) http.Handler {
		built.Add(1)
		mu.Lock()
		got = append(got, deps)
		mu.Unlock()
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "api "+r.URL.Path+" "+deps.Service.Syncs()[0].Name)
		})
	}
	b.create(t)
	early := httptest.NewServer(b.d.Handler())
	defer early.Close()
	code, body := get(t, early.URL+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code, "not ready before the scheduler runs")
	require.Contains(t, body, "not ready")
	code, _ = get(t, early.URL+"/healthz")
	require.Equal(t, http.StatusOK, code, "healthy as soon as the process serves")

	addr, stop := b.start(t, 2)
	base := "http://" + addr

	code, body = get(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)
	code, _ = get(t, base+"/readyz")
	require.Equal(t, http.StatusOK, code)
	code, body = get(t, base+"/api/v1/syncs")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "api /api/v1/syncs buyers", body)

	mu.Lock()
	deps := got[0]
	mu.Unlock()
	require.NotNil(t, deps.Trigger)
	require.NotNil(t, deps.Reload)
	next, ok := deps.NextRun("buyers")
	require.True(t, ok)
	require.False(t, next.IsZero())

	writeConfig(t, b.dir, "", "sellers", "* * * * *")
	require.NoError(t, deps.Reload(t.Context()))
	require.Equal(t, int32(2), built.Load(), "the API is built again on the new config")
	_, body = get(t, base+"/api/v1/syncs")
	require.Equal(t, "api /api/v1/syncs sellers", body)
	stop()
	code, _ = get(t, early.URL+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code, "not ready once stopped")
}

// /metrics, scraped from the real server, counts runs by sync and status,
// members and batches by destination, source rows, audience size and the
// last success, with no run id, member or error text in a label.
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	b := setup(t, "serve: {max_jitter: 0s}\n", "buyers", "* * * * *")
	// A second source file with a row the normaliser rejects.
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "contacts.csv"),
		[]byte("contact_id,email\nC1,person.1@example.com\nC2,person.2@example.com\nC3,not-an-email\nC4,x,y\n"), 0o600))
	addr, _ := b.start(t, 2)
	rep, err := b.d.Trigger(t.Context(), "buyers", syncs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	b.advanceTo(nextMinute)
	recv(t, b.gate.finished, "triggered run")
	recv(t, b.gate.finished, "scheduled run")
	b.waitIdle(t, 2)

	code, body := get(t, "http://"+addr+"/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{
		`audiencesync_runs_total{status="succeeded",sync="buyers"} 2`,
		`audiencesync_members_total{destination="exports/google",op="added",sync="buyers"} 2`,
		`audiencesync_members_total{destination="exports/google",op="failed",sync="buyers"} 0`,
		`audiencesync_batches_total{destination="exports/google",op="add",result="ok"} 1`,
		`audiencesync_batch_duration_seconds_count{destination="exports/google",op="add"} 1`,
		`audiencesync_source_rows_read_total{sync="buyers"} 8`,
		`audiencesync_source_rows_rejected_total{reason="row.malformed",sync="buyers"} 2`,
		`audiencesync_members_rejected_total{destination="exports/google",reason="email.malformed",sync="buyers"} 2`,
		`audiencesync_audience_members{destination="exports/google",sync="buyers"} 2`,
		`audiencesync_run_duration_seconds_count{sync="buyers"} 2`,
		`audiencesync_runs_in_progress 0`,
	} {
		require.Contains(t, body, want)
	}
	last := regexp.MustCompile(`audiencesync_last_success_timestamp_seconds\{sync="buyers"\} (\S+)`).FindStringSubmatch(body)
	require.NotNil(t, last, "last success gauge")
	require.NotContains(t, body, rep.RunID, "no run id in labels")
	require.NotContains(t, body, "example.com", "no contact data")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "audiencesync_") && strings.Contains(line, "{") {
			require.Regexp(t, `^[a-z_]+\{((destination|op|result|reason|status|sync|le)="[^"]*",?)+\} `, line)
		}
	}
}

// receiver is an httptest alerts webhook that fails the first fail posts.
type receiver struct {
	srv   *httptest.Server
	fail  int32
	calls atomic.Int32
	mu    sync.Mutex
	got   []daemon.Alert
	raw   []string
}

func newReceiver(t *testing.T, fail int32) *receiver {
	rc := &receiver{fail: fail}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := rc.calls.Add(1)
		if n <= rc.fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var a daemon.Alert
		if err := json.Unmarshal(body, &a); err != nil || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.got, rc.raw = append(rc.got, a), append(rc.raw, string(body))
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) alerts() ([]daemon.Alert, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]daemon.Alert(nil), rc.got...), append([]string(nil), rc.raw...)
}

// A failed run posts an alert to the sync's webhook (a secret reference,
// retried after a 503) with the run's id, status and counts and no
// contact data; the webhook's token never reaches a log line.
func TestFailureAlert(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, 1)
	hook := rc.srv.URL + "/hooks/T000/B000/s3cr3t-token"
	b := setup(t, "alerts: {webhook: \"${env:AS_TEST_HOOK_FAILURE}\"}\n", "buyers", "* * * * *")
	b.env["AS_TEST_HOOK_FAILURE"] = hook
	b.opts.Alerts = &daemon.Sender{Backoff: time.Millisecond}
	b.start(t, 2)
	// The source disappears: the run fails.
	require.NoError(t, os.Remove(filepath.Join(b.dir, "contacts.csv")))
	rep, err := b.d.Trigger(t.Context(), "buyers", syncs.RunOptions{})
	require.Error(t, err)
	require.Equal(t, report.StatusFailed, rep.Status)

	require.Eventually(t, func() bool { a, _ := rc.alerts(); return len(a) == 1 }, 10*time.Second, 10*time.Millisecond)
	got, raw := rc.alerts()
	require.Equal(t, int32(2), rc.calls.Load(), "retried once after the 503")
	a := got[0]
	require.Equal(t, "buyers", a.Sync)
	require.Equal(t, rep.RunID, a.RunID)
	require.Equal(t, "failed", a.Status)
	require.Equal(t, "failed", a.Reason)
	require.NotNil(t, a.Counts)
	require.Contains(t, a.Text, "sync buyers failed")
	require.Contains(t, a.Text, rep.RunID)
	require.NotEmpty(t, a.Error)
	require.NotContains(t, raw[0], "example.com")
	for _, e := range b.logs.All() {
		require.NotContains(t, e.Message+fmt.Sprint(e.ContextMap()), "s3cr3t")
	}
}

// A rate limit the platform imposes (the Google replica answering 429
// RESOURCE_EXHAUSTED with a 1 s retry delay, once) shows in /metrics as
// one rate-limit wait of that length for the destination and op, and the
// batch still goes in.
func TestMetricsRateLimitWaits(t *testing.T) {
	t.Parallel()
	sb := sandbox.New(sandbox.Options{Faults: fault.MustParse("google.ingest:429*1")})
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	b := setup(t, "serve: {max_jitter: 0s}\n", "buyers", "0 0 1 1 *")
	cfg := "state: {path: ./state.db}\nconnections:\n  crm: {type: csv, path: ./contacts.csv}\n" +
		"  google: {type: google_ads, sandbox: true, endpoint: \"" + ts.URL + "\", operating_account: \"1234567890\"}\nsyncs:\n" +
		"  - name: buyers\n    source: {connection: crm, key: contact_id, fields: {email: email}}\n" +
		"    destinations:\n      - connection: google\n        audience: {name: Buyers, membership_days: 540}\n" +
		"        consent: {ad_user_data: granted, ad_personalization: granted}\n"
	require.NoError(t, os.WriteFile(b.path, []byte(cfg), 0o600))
	addr, _ := b.start(t, 1)
	rep, err := b.d.Trigger(t.Context(), "buyers", syncs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status)
	require.Equal(t, map[string]int{"google.ingest:429*1": 1}, sb.State(false).Faults.Fired)

	_, body := get(t, "http://"+addr+"/metrics")
	require.Contains(t, body, `audiencesync_rate_limit_waits_total{destination="google",op="add"} 1`)
	m := regexp.MustCompile(`audiencesync_rate_limit_wait_seconds_total\{destination="google",op="add"\} (\S+)`).FindStringSubmatch(body)
	require.NotNil(t, m, "rate-limit wait seconds")
	secs, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	require.InDelta(t, 1.0, secs, 0.001, "the retry delay the replica asked for")
	require.Contains(t, body, `audiencesync_batch_retries_total{destination="google",op="add"} 1`)
}
