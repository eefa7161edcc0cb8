package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/daemon"
)

// `alert test` posts a sample alert to the global webhook, or with --sync
// to the sync's own, and never prints the webhook URL; without a webhook
// it says what to set.
func TestAlertTest(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string]daemon.Alert{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var a daemon.Alert
		require.NoError(t, json.Unmarshal(body, &a))
		mu.Lock()
		got[r.URL.Path] = a
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	write := func(name, alerts string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `%sconnections:
  crm: {type: csv, path: ./contacts.csv}
  exports: {type: file, dir: ./out}
syncs:
  - name: buyers
    alerts: {webhook: "%s/own/s3cr3t"}
    source: {connection: crm, key: id, fields: {email: email}}
    destinations: [{connection: exports}]
  - name: sellers
    source: {connection: crm, key: id, fields: {email: email}}
    destinations: [{connection: exports}]
`, alerts, srv.URL), 0o600))
		return path
	}
	cfg := write("a.yaml", fmt.Sprintf("alerts: {webhook: \"%s/global/s3cr3t\"}\n", srv.URL))

	r := run(t, "", "alert", "test", "--config", cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, "test alert for sync example sent\n", r.stdout)
	r = run(t, "", "alert", "test", "--config", cfg, "--sync", "buyers")
	require.Equal(t, ExitOK, r.code, r.stderr)
	mu.Lock()
	require.Equal(t, "test", got["/global/s3cr3t"].Reason)
	require.Equal(t, "buyers", got["/own/s3cr3t"].Sync)
	require.Contains(t, got["/own/s3cr3t"].Text, "test alert for sync buyers")
	mu.Unlock()

	r = run(t, "", "alert", "test", "--config", write("b.yaml", ""), "--sync", "sellers")
	require.Equal(t, ExitUsage, r.code)
	require.Contains(t, r.stderr, "no alerts webhook configured: set alerts.webhook")

	srv.Close()
	r = run(t, "", "alert", "test", "--config", cfg, "--log-format", "json")
	require.Equal(t, ExitFailed, r.code)
	require.NotContains(t, r.stderr+r.stdout, "s3cr3t", "the webhook URL is never printed")
}
