package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/syncs"
)

// TestTokenCommands: create prints a token once, list never shows it,
// the state file holds only its hash, the API accepts it until revoke.
func TestTokenCommands(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	r := run(t, "", "token", "create", "--config", cfg, "--role", "operator", "--name", "ci")
	require.Equal(t, ExitOK, r.code, r.stderr)
	tok := strings.TrimSpace(r.stdout)
	require.Regexp(t, `^ast_[0-9a-f]{16}_[0-9a-f]{64}$`, tok)
	require.Contains(t, r.stderr, "shown only this once")
	require.NotContains(t, r.stderr, tok)
	id := tok[4:20]

	r = run(t, "", "token", "create", "--config", cfg, "--role", "viewer")
	require.Equal(t, ExitOK, r.code, r.stderr)
	viewer := strings.TrimSpace(r.stdout)

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "admin"}, "use viewer"},
		{[]string{"--role", "viewer", "--name", "ci"}, `a token named "ci" exists`},
		{nil, `"role" not set`},
	} {
		r = run(t, "", append([]string{"token", "create", "--config", cfg}, bad.args...)...)
		require.Equal(t, ExitUsage, r.code, bad.args)
		require.Contains(t, r.stderr, bad.want, bad.args)
	}

	r = run(t, "", "token", "list", "--config", cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Regexp(t, regexp.MustCompile(`(?m)^ci\s+`+id+`\s+operator\s+\S+ \S+\s+never$`), r.stdout)
	require.Regexp(t, regexp.MustCompile(`(?m)^token-[0-9a-f]{8}\s+[0-9a-f]{16}\s+viewer\s`), r.stdout)
	require.NotContains(t, r.stdout, tok[21:], "list never shows a token")
	require.NotContains(t, r.stdout, viewer[21:])

	// At rest: neither the token nor its secret half, in any file of the
	// state (the database, its WAL).
	files, err := filepath.Glob(filepath.Join(filepath.Dir(cfg), "quickstart", "audiencesync.db*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, secret := range []string{tok, tok[21:], viewer[21:]} {
			require.False(t, bytes.Contains(data, []byte(secret)), "%s holds a token in clear", f)
		}
	}

	// The API takes it, records its use, and refuses it once revoked.
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: cfg})
	require.NoError(t, err)
	tokens, err := svc.Tokens(t.Context())
	require.NoError(t, err)
	srv := httptest.NewServer(api.New(api.Options{Service: svc, Tokens: tokens}))
	get := func() int {
		req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/v1/runs", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, get())
	r = run(t, "", "token", "list", "--config", cfg)
	require.NotRegexp(t, regexp.MustCompile(`(?m)^ci\s.*never$`), r.stdout, "last use recorded")

	r = run(t, "", "token", "revoke", "--config", cfg, "ci")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, `revoked API token "ci" (id `+id)
	require.Equal(t, http.StatusUnauthorized, get())
	srv.Close()
	require.NoError(t, svc.Close())

	r = run(t, "", "token", "revoke", "--config", cfg, "ci")
	require.Equal(t, ExitUsage, r.code)
	require.Contains(t, r.stderr, "token list")
	// By id.
	vid := viewer[4:20]
	r = run(t, "", "token", "revoke", "--config", cfg, vid)
	require.Equal(t, ExitOK, r.code, r.stderr)
	r = run(t, "", "token", "list", "--config", cfg)
	require.Equal(t, "NAME  ID  ROLE  CREATED  LAST USED\n", r.stdout)
}
