package pgtest

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNotInstalled finds no PostgreSQL where there is none, and says
// how to install it.
func TestNotInstalled(t *testing.T) {
	old := debianInitdb
	debianInitdb = t.TempDir() + "/*/bin/initdb"
	t.Cleanup(func() { debianInitdb = old })
	t.Setenv("PATH", t.TempDir())
	t.Setenv("PGTEST_BIN", "")
	_, err := Start()
	require.ErrorIs(t, err, ErrNotInstalled)
	require.ErrorContains(t, err, "apt-get install -y postgresql")
}

// TestMissingSkipsUnlessCI runs a test needing a server that is missing:
// it is skipped with the install advice, except under CI=true, where it
// fails.
func TestMissingSkipsUnlessCI(t *testing.T) {
	if os.Getenv("PGTEST_HELPER") == "1" {
		Database(t, nil)
		return
	}
	t.Parallel()
	for _, tc := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{ci: "", want: "--- SKIP"},
		{ci: "true", wantFail: true, want: "--- FAIL"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingSkipsUnlessCI$", "-test.v")
		cmd.Env = append(os.Environ(), "PGTEST_HELPER=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if tc.wantFail {
			require.Error(t, err, "%s", out)
		} else {
			require.NoError(t, err, "%s", out)
		}
		require.Contains(t, string(out), tc.want)
		require.Contains(t, string(out), "apt-get install -y postgresql")
	}
}
