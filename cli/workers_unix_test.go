//go:build unix

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/internal/pgtest"
	"github.com/audiencesync/audiencesync/internal/servetest"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// TestServeWorkersOnPostgreSQL runs two real `serve --workers 2`
// processes on one config whose state.dsn (a ${file:…} reference) is a
// PostgreSQL database, with no serve.queue.dsn: the queue is found through
// state.dsn. A token made with `token create` on that state opens the API
// of either node; the scheduled runs, worked by the cluster, are in the
// run log every node and `audiencesync runs` read, and a sync's runs never
// overlap; /metrics says the queue is up; `state check` passes; SIGTERM
// stops a node with status 0; and once PostgreSQL is gone /readyz says the
// state store does not answer.
//
// The package's other tests need no PostgreSQL, so this test starts its
// own server rather than every run of the package.
func TestServeWorkersOnPostgreSQL(t *testing.T) {
	t.Parallel()
	srv, err := pgtest.Start()
	if errors.Is(err, pgtest.ErrNotInstalled) && !pgtest.InCI() {
		t.Skip(err.Error())
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	dsn := pgtest.Database(t, srv)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "cluster.yaml")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state-dsn"), []byte(dsn+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "contacts.csv"), []byte("contact_id,email\nC1,person.1@example.com\nC2,person.2@example.com\n"), 0o600))
	var b strings.Builder
	b.WriteString(`state: {dsn: "${file:./state-dsn}"}
serve: {max_jitter: 0s, catch_up: none, queue: {job_timeout: 20s, rescue_after: 30s}}
connections:
  crm: {type: csv, path: ./contacts.csv}
  exports: {type: file, dir: ./out}
syncs:
`)
	for _, name := range []string{"buyers", "leads"} {
		fmt.Fprintf(&b, "  - name: %s\n    schedule: \"@every 2s\"\n    source: {connection: crm, key: contact_id, fields: {email: email}}\n    destinations: [{connection: exports}]\n", name)
	}
	require.NoError(t, os.WriteFile(cfg, []byte(b.String()), 0o600))

	r := run(t, "", "token", "create", "--config", cfg, "--role", "viewer", "--name", "ops")
	require.Equal(t, ExitOK, r.code, r.stderr)
	token := strings.TrimSpace(r.stdout)

	nodes := make([]*process, 2)
	addrs := make([]string, 2)
	for i := range nodes {
		nodes[i] = startProcess(t, "serve", "--config", cfg, "--addr", "127.0.0.1:0", "--workers", "2", "--log-format", "json")
		addrs[i] = waitServing(t, nodes[i])
	}
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: cfg})
	require.NoError(t, err)
	defer svc.Close()
	succeeded := func(sync string) []syncs.RunRecord {
		runs, err := svc.ListRuns(t.Context(), state.RunFilter{Sync: sync, Limit: 100})
		require.NoError(t, err)
		var ok []syncs.RunRecord
		for _, r := range runs {
			if r.Status == string(report.StatusSucceeded) && r.StartedBy == "schedule" {
				ok = append(ok, r)
			}
		}
		slices.Reverse(ok) // oldest first
		return ok
	}
	require.Eventually(t, func() bool { return len(succeeded("buyers")) >= 3 && len(succeeded("leads")) >= 3 },
		time.Minute, 100*time.Millisecond, "scheduled runs on the cluster; stderr:\n%s", nodes[0].stderr.String())
	for _, sync := range []string{"buyers", "leads"} {
		ran := succeeded(sync)
		for j := 1; j < len(ran); j++ {
			require.False(t, ran[j].Started.Before(ran[j-1].Finished), "%s: runs %s and %s overlap", sync, ran[j-1].ID, ran[j].ID)
		}
	}

	// Either node lists the cluster's runs, to the token made on the
	// shared state; each says its queue is up.
	last := succeeded("buyers")[0]
	for _, addr := range addrs {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/api/v1/runs?sync=buyers&limit=100", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var list struct {
			Runs []struct{ ID string } `json:"runs"`
		}
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
		resp.Body.Close()
		require.True(t, slices.ContainsFunc(list.Runs, func(r struct{ ID string }) bool { return r.ID == last.ID }), "node %s lists run %s", addr, last.ID)
		code, metrics := servetest.Get(t, "http://"+addr+"/metrics")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, metrics, "\naudiencesync_queue_up 1\n")
	}
	r = run(t, "", "runs", "--config", cfg, "--sync", "buyers")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, last.ID)
	r = run(t, "", "state", "check", "--config", cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "ok (integrity check passed)")

	require.NoError(t, nodes[1].cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, ExitOK, nodes[1].exit(t), "stderr:\n%s", nodes[1].stderr.String())

	require.NoError(t, srv.Stop())
	require.Eventually(t, func() bool {
		code, body := servetest.Get(t, "http://"+addrs[0]+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "the state store does not answer")
	}, 30*time.Second, 100*time.Millisecond)
}
