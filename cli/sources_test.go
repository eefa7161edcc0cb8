package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors/hubspot/replicacreds"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
)

// TestQuickstartHubSpotList runs the whole quickstart (the CSV sync and the
// HubSpot one), changes the HubSpot list through the replica's API, and
// checks the next run sends only the difference.
func TestQuickstartHubSpotList(t *testing.T) {
	t.Parallel()
	cfg := quickstartFull(t)
	r := run(t, "", "sync", "--config", cfg, "--output", "json", "--log-format", "json")
	require.Equal(t, ExitOK, r.code, r.stderr)
	reps := decodeReports(t, r)
	require.Len(t, reps, 2, "both syncs ran")
	crm := reps[1]
	require.Equal(t, "newsletter-subscribers", crm.Sync)
	require.Equal(t, report.StatusSucceeded, crm.Status)
	require.Equal(t, int64(41), crm.Source.Read)
	require.Equal(t, int64(41), crm.Source.Declared, "the list's size was declared")
	for _, name := range []string{"google", "meta", "x"} {
		d := destinationNamed(t, crm, name)
		require.Equal(t, int64(36), d.Applied.Added, name+": 41 members, 5 opted out or without identifiers")
	}

	// Edit the list through the replica's API, in the sandbox's state file.
	sb, err := sandbox.Open(sandbox.Options{StatePath: filepath.Join(filepath.Dir(cfg), "quickstart", "audiencesync.sandbox.json")})
	require.NoError(t, err)
	ts := httptest.NewServer(sb)
	for path, body := range map[string]string{
		"/crm/v3/lists/" + replicacreds.NewsletterID + "/memberships/remove": `["51001","51002"]`,
		"/crm/v3/lists/" + replicacreds.NewsletterID + "/memberships/add":    `["51049"]`,
	} {
		req, err := http.NewRequest(http.MethodPut, ts.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+replicacreds.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	ts.Close()
	require.NoError(t, sb.Close())

	rep, r := syncJSON(t, cfg, "--sync", "newsletter-subscribers")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Equal(t, int64(40), rep.Source.Read)
	for _, name := range []string{"google", "meta", "x"} {
		d := destinationNamed(t, rep, name)
		require.Equal(t, int64(1), d.Applied.Added, name)
		require.Equal(t, int64(2), d.Applied.Removed, name)
	}
}

func TestSourcesListsTheLists(t *testing.T) {
	t.Parallel()
	cfg := quickstartFull(t)
	for _, args := range [][]string{{"--connection", "hubspot"}, {"--sync", "newsletter-subscribers"}} {
		r := run(t, "", append([]string{"sources", "--config", cfg}, args...)...)
		require.Equal(t, ExitOK, r.code, r.stderr)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		require.Len(t, lines, 4, r.stdout)
		require.Regexp(t, `^ID\s+TYPE\s+SIZE\s+NAME\s+SOURCE.AUDIENCE$`, lines[0])
		require.Regexp(t, `^3\s+MANUAL\s+41\s+Newsletter subscribers\s+id:3$`, lines[2])
	}
	r := run(t, "", "sources", "--config", cfg, "--connection", "hubspot", "--output", "json")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, `"audience": "id:5"`)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--connection", "crm_export"}, ExitUsage, "holds one audience"},
		{[]string{"--connection", "google"}, ExitUsage, "is a destination"},
		{[]string{"--connection", "nope"}, ExitUsage, `no connection named "nope"`},
		{[]string{"--sync", "nope"}, ExitUsage, `no sync named "nope"`},
		{nil, ExitUsage, "--connection NAME or --sync NAME"},
	} {
		r := run(t, "", append([]string{"sources", "--config", cfg}, tc.args...)...)
		require.Equal(t, tc.code, r.code, r.stderr)
		require.Contains(t, r.stderr, tc.want)
	}
}

func TestCheckFindsTheList(t *testing.T) {
	t.Parallel()
	cfg := quickstartFull(t)
	r := run(t, "", "check", "--config", cfg, "--connection", "hubspot")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, `sync newsletter-subscribers: list "Newsletter subscribers": MANUAL list id:3, 41 members`)

	body, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, bytes.Replace(body, []byte("audience: Newsletter subscribers"), []byte("audience: Newsletter subscriber"), 1), 0o600))
	r = run(t, "", "check", "--config", cfg, "--connection", "hubspot")
	require.Equal(t, ExitFailed, r.code)
	require.Contains(t, r.stdout, "FAILED")
	require.Contains(t, r.stdout, "check source.audience")
}
