//go:build unix

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
)

// TestServeKilledMidRunConverges kills a real `serve` process with
// SIGKILL while its scheduled run is uploading, right after the platform
// applied a batch the daemon never heard back about. Restarted, the
// daemon lists the killed run as interrupted, catches up at once (a tick
// passed since that run), and converges: the platform holds exactly the
// source's audience. SIGTERM then stops it cleanly.
func TestServeKilledMidRunConverges(t *testing.T) {
	t.Parallel()
	b := newBed(t, "google")
	const contacts = 3000
	b.contacts(contacts, 0)
	cfg, err := os.ReadFile(b.cfg)
	require.NoError(t, err)
	cfg = []byte(strings.Replace(string(cfg), "  - name: cart-abandoners\n", "  - name: cart-abandoners\n    schedule: \"@every 2s\"\n", 1))
	require.NoError(t, os.WriteFile(b.cfg, cfg, 0o600))

	k := b.k
	k.match, k.nth = post("/v1/", "audienceMembers:ingest"), 1
	k.seen.Store(0)
	k.fired.Store(false)
	k.armed.Store(true)
	k.mu.Lock()
	first := startProcess(t, "serve", "--config", b.cfg, "--addr", "127.0.0.1:0", "--log-format", "json")
	k.child = first.cmd.Process
	k.mu.Unlock()
	first.exit(t)
	k.armed.Store(false)
	require.True(t, k.fired.Load(), "the daemon should have been killed mid-run; stderr:\n%s", first.stderr.String())
	killed := regexp.MustCompile(`"msg":"run started".*?"run_id":"([^"]+)"`).FindStringSubmatch(first.stderr.String())
	require.NotNil(t, killed, "a run start line with its run id; stderr:\n%s", first.stderr.String())

	// Down for longer than a tick: the restarted daemon catches up.
	time.Sleep(2500 * time.Millisecond)
	second := startProcess(t, "serve", "--config", b.cfg, "--addr", "127.0.0.1:0", "--log-format", "json")
	addr := waitServing(t, second)
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: b.cfg})
	require.NoError(t, err)
	defer svc.Close()
	var done syncs.RunRecord
	require.Eventually(t, func() bool {
		runs, err := svc.Runs(t.Context(), "cart-abandoners", 10)
		if err != nil {
			return false
		}
		for _, r := range runs {
			if r.Status == string(report.StatusSucceeded) {
				done = r
				return true
			}
		}
		return false
	}, 2*time.Minute, 100*time.Millisecond, "a run after the restart succeeds; stderr:\n%s", second.stderr.String())
	require.Contains(t, second.stderr.String(), "catch-up")
	resp, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, ExitOK, second.exit(t), "stderr:\n%s", second.stderr.String())
	require.Contains(t, second.stderr.String(), `"msg":"stopped"`)

	runs, err := svc.Runs(t.Context(), "cart-abandoners", 50)
	require.NoError(t, err)
	var sawKilled bool
	for _, r := range runs {
		if r.ID == killed[1] {
			sawKilled = true
			require.True(t, r.Interrupted, "the killed run is listed as interrupted")
		}
	}
	require.True(t, sawKilled, "the killed run %s is recorded", killed[1])
	rep, err := svc.Report(context.WithoutCancel(t.Context()), done.ID)
	require.NoError(t, err)
	b.requireExact(rep, contacts)
}

// waitServing returns the address a serve process prints once listening.
func waitServing(t *testing.T, p *process) string {
	t.Helper()
	re := regexp.MustCompile(`serving on http://(\S+)`)
	var addr string
	require.Eventually(t, func() bool {
		m := re.FindStringSubmatch(p.stdout.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	}, time.Minute, 20*time.Millisecond, "stderr:\n%s", p.stderr.String())
	return addr
}

// TestServeReloadOnSIGHUP: a serve process whose stderr is not a terminal
// logs JSON; SIGHUP with a config that does not validate is refused, the
// old config keeps running and /readyz stays ready; SIGHUP with a valid
// one puts it in force; SIGTERM stops the process with status 0. A config
// that does not validate at start is refused with status 2.
func TestServeReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "serve.yaml")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "contacts.csv"), []byte("contact_id,email\nC1,person.1@example.com\n"), 0o600))
	write := func(schedule string) {
		require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `connections:
  crm: {type: csv, path: ./contacts.csv}
  exports: {type: file, dir: ./out}
syncs:
  - name: buyers
    schedule: "%s"
    source: {connection: crm, key: contact_id, fields: {email: email}}
    destinations: [{connection: exports}]
`, schedule), 0o600))
	}
	write("0 3 * * *")
	p := startProcess(t, "serve", "--config", cfg, "--addr", "127.0.0.1:0")
	addr := waitServing(t, p)

	write("every day")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), "reload refused") }, 30*time.Second, 20*time.Millisecond)
	resp, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the old config keeps running")
	// The JSON API is mounted: without any token loopback is served.
	resp, err = http.Get("http://" + addr + "/api/v1/syncs")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Contains(t, string(body), `"buyers"`)

	write("@every 1h")
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), "config reloaded") }, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, ExitOK, p.exit(t), p.stderr.String())
	for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		require.True(t, json.Valid([]byte(line)), "a JSON log line: %s", line)
	}

	write("every day")
	r := run(t, "", "serve", "--config", cfg, "--addr", "127.0.0.1:0")
	require.Equal(t, ExitUsage, r.code)
	require.Contains(t, r.stderr, `schedule "every day"`)

	// Off loopback, the API needs a token: without one serve refuses.
	write("@every 1h")
	r = run(t, "", "serve", "--config", cfg, "--addr", "0.0.0.0:0")
	require.Equal(t, ExitUsage, r.code, r.stderr)
	require.Contains(t, r.stderr, "without an API token")
}

// serve --workers needs a PostgreSQL database for its job queue: without
// serve.queue.dsn or state.dsn it refuses to start, saying what to set;
// a negative count is a usage error.
func TestServeWorkersNeedsAQueueDatabase(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	for _, tc := range []struct {
		name, workers, want string
	}{
		{"no database", "2", "serve --workers needs a PostgreSQL database for its job queue: set state.dsn, or serve.queue.dsn"},
		{"negative", "-1", "--workers must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, "", "serve", "--config", cfg, "--addr", "127.0.0.1:0", "--workers", tc.workers)
			require.Equal(t, ExitUsage, r.code, r.stderr)
			require.Contains(t, r.stderr, tc.want)
		})
	}
}
