// Package servetest holds what the tests of `serve`'s parts (the API, the
// web UI, the command line) share: a copy of the bundled quickstart
// (configs/quickstart.yaml and its synthetic contacts.csv) in a test's
// temp dir, so tests run the real quickstart without touching the
// checkout's state, sandbox or export files, and API tokens made for a
// test.
package servetest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/state"
)

// Quickstart copies the quickstart config, with edit applied to it (nil
// keeps it as it is), and its CSV from the checkout at root ("..", from a
// package directory) into a temp dir, and returns the config's path.
func Quickstart(t testing.TB, root string, edit func([]byte) []byte) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(root, "configs", "quickstart.yaml"))
	require.NoError(t, err)
	if edit != nil {
		cfg = edit(cfg)
	}
	data, err := os.ReadFile(filepath.Join(root, "configs", "quickstart", "contacts.csv"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "quickstart"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "quickstart.yaml"), cfg, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "quickstart", "contacts.csv"), data, 0o600))
	return filepath.Join(dir, "quickstart.yaml")
}

// Token creates an API token named name with role in tokens and returns
// it.
func Token(t testing.TB, tokens state.Tokens, name, role string) string {
	t.Helper()
	tok, rec, err := api.NewToken(name, role, time.Now())
	require.NoError(t, err)
	require.NoError(t, tokens.CreateToken(t.Context(), rec))
	return tok
}
