package postgres_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/cli"
	"github.com/audiencesync/audiencesync/internal/servetest"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// quickstartOn copies the quickstart with its state on PostgreSQL when dsn
// is set: state.dsn reads the DSN from a file beside the config
// (${file:…}, one of the secret forms).
func quickstartOn(t *testing.T, dsn string) string {
	t.Helper()
	cfg := servetest.Quickstart(t, "../..", func(cfg []byte) []byte {
		if dsn == "" {
			return cfg
		}
		return bytes.Replace(cfg, []byte("state:\n  path: ./quickstart/audiencesync.db\n"), []byte("state:\n  dsn: ${file:./state-dsn}\n"), 1)
	})
	if dsn != "" {
		require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(cfg), "state-dsn"), []byte(dsn+"\n"), 0o600))
		raw, err := os.ReadFile(cfg)
		require.NoError(t, err)
		require.Contains(t, string(raw), "dsn: ${file:./state-dsn}")
	}
	return cfg
}

// runCLI runs audiencesync with args and returns its exit code and
// output.
func runCLI(args ...string) (int, string) {
	var out bytes.Buffer
	code := cli.Main(args, strings.NewReader(""), &out, &out)
	return code, out.String()
}

// syncAll runs `audiencesync sync` on cfg and returns its reports, one
// per sync, by sync name.
func syncAll(t *testing.T, cfg string) map[string]*report.Report {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main([]string{"sync", "--config", cfg, "--output", "json", "--log-format", "json"}, strings.NewReader(""), &out, &errb)
	require.Equal(t, cli.ExitOK, code, errb.String())
	reps := map[string]*report.Report{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var rep report.Report
		require.NoError(t, dec.Decode(&rep))
		reps[rep.Sync] = &rep
	}
	require.NotEmpty(t, reps)
	return reps
}

// audiences is what a run left: each destination's replica members (by
// sync and destination) and state's members without their send times.
type audiences struct {
	replica map[string][]string
	state   map[state.Scope][]state.Entry
}

func audiencesOf(t *testing.T, reps map[string]*report.Report, sandboxState string, st state.MemberStore) audiences {
	t.Helper()
	sb, err := sandbox.Open(sandbox.Options{StatePath: sandboxState})
	require.NoError(t, err)
	defer sb.Close()
	out := audiences{replica: map[string][]string{}, state: map[state.Scope][]state.Entry{}}
	for sync, rep := range reps {
		for _, d := range rep.Destinations {
			scope := state.Scope{Sync: sync, Destination: d.Name}
			for e, err := range st.Snapshot(t.Context(), scope) {
				require.NoError(t, err)
				e.LastSent = time.Time{}
				out.state[scope] = append(out.state[scope], e)
			}
			if d.AudienceID == "" || d.Type == "file" {
				continue // files, not a replica
			}
			members := sb.Members(d.Profile, d.AudienceID)
			slices.Sort(members)
			out.replica[sync+"/"+d.Name] = members
		}
	}
	return out
}

// TestQuickstartOnPostgres runs the quickstart with its state on
// PostgreSQL and on SQLite: the replicas' audiences and the committed
// state are the same, and a second run on PostgreSQL sends nothing.
func TestQuickstartOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := database(t)
	pgCfg, liteCfg := quickstartOn(t, dsn), quickstartOn(t, "")
	pgReps, liteReps := syncAll(t, pgCfg), syncAll(t, liteCfg)
	require.Equal(t, len(liteReps), len(pgReps))
	for sync, lite := range liteReps {
		pg := pgReps[sync]
		require.NotNil(t, pg, sync)
		require.Equal(t, report.StatusSucceeded, pg.Status, sync)
		require.Len(t, pg.Destinations, len(lite.Destinations))
		for i, d := range lite.Destinations {
			require.Equal(t, d.Applied, pg.Destinations[i].Applied, "%s/%s", sync, d.Name)
			require.Equal(t, d.Members, pg.Destinations[i].Members, "%s/%s", sync, d.Name)
		}
	}

	pgStore := openOn(t, dsn)
	lite, err := sqlite.Open(t.Context(), filepath.Join(filepath.Dir(liteCfg), "quickstart", "audiencesync.db"))
	require.NoError(t, err)
	want := audiencesOf(t, liteReps, filepath.Join(filepath.Dir(liteCfg), "quickstart", "audiencesync.sandbox.json"), lite)
	require.NoError(t, lite.Close())
	got := audiencesOf(t, pgReps, filepath.Join(filepath.Dir(pgCfg), "audiencesync.sandbox.json"), pgStore)
	require.NotEmpty(t, want.replica)
	for name, members := range want.replica {
		require.NotEmpty(t, members, name)
	}
	require.Equal(t, want.replica, got.replica, "the replicas hold the same audiences")
	require.Equal(t, want.state, got.state, "state holds the same members")

	// Commands that load the config without its secrets still open the
	// store: state.dsn is resolved for it.
	code, out := runCLI("state", "check", "--config", pgCfg)
	require.Equal(t, cli.ExitOK, code, out)
	require.Contains(t, out, "postgres://postgres@")
	code, out = runCLI("token", "create", "--name", "ci", "--role", "viewer", "--config", pgCfg)
	require.Equal(t, cli.ExitOK, code, out)
	tokens, err := pgStore.ListTokens(t.Context())
	require.NoError(t, err)
	require.Len(t, tokens, 1)

	for sync, rep := range syncAll(t, pgCfg) {
		for _, d := range rep.Destinations {
			require.Zero(t, d.Planned.Add+d.Planned.Remove+d.Planned.Update, "%s/%s", sync, d.Name)
			require.Zero(t, d.Applied.Added+d.Applied.Removed+d.Applied.Updated, "%s/%s", sync, d.Name)
		}
	}
}
