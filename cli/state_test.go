package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDamagedStateStopsRun checks that a run on a damaged state database
// stops before any upload, with advice, and that `state check` reports the
// damage; a sound database passes the check.
func TestDamagedStateStopsRun(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	_, r := syncJSON(t, cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	r = run(t, "", "state", "check", "--config", cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, "ok (integrity check passed)")

	sandboxFile := filepath.Join(filepath.Dir(cfg), "quickstart", "audiencesync.sandbox.json")
	before, err := os.ReadFile(sandboxFile)
	require.NoError(t, err)

	// Damage the page headers of the members table's pages.
	db := filepath.Join(filepath.Dir(cfg), "quickstart", "audiencesync.db")
	fi, err := os.Stat(db)
	require.NoError(t, err)
	f, err := os.OpenFile(db, os.O_WRONLY, 0)
	require.NoError(t, err)
	for off := int64(2 * 4096); off < fi.Size(); off += 4096 {
		_, err := f.WriteAt([]byte("\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5"), off)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())

	// Delete a contact so that a run trusting the state would upload.
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(cfg), "quickstart", "contacts.csv"), []byte("contact_id,email,phone,first_name,last_name,zip,country,ad_user_data\n"), 0o600))
	r = run(t, "", "sync", "--config", cfg, "--force")
	require.Equal(t, ExitFailed, r.code)
	require.Contains(t, r.stderr, "state database is corrupt")
	require.Contains(t, r.stderr, "--full-refresh")
	after, err := os.ReadFile(sandboxFile)
	require.NoError(t, err)
	require.Equal(t, string(before), string(after), "nothing may reach the platforms")

	r = run(t, "", "state", "check", "--config", cfg)
	require.Equal(t, ExitFailed, r.code)
	require.Contains(t, r.stderr, "state database is corrupt")
}
