package sandbox_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/sandbox"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/state.json from what the sandbox saves")

// TestStateFileFormat keeps the state file as it is: a file with every
// replica's state loads, and saves again to the same bytes, so state files
// written by earlier versions keep loading and read the same.
func TestStateFileFormat(t *testing.T) {
	t.Parallel()
	golden := filepath.Join("testdata", "state.json")
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(path, want, 0o600))

	srv, err := sandbox.Open(sandbox.Options{StatePath: path})
	require.NoError(t, err)
	require.NoError(t, srv.Close()) // saves again
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	if *updateGolden {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
		return
	}
	require.JSONEq(t, string(want), string(got), "every field survives a load and a save")
	require.Equal(t, string(want), string(got), "fields in the same order and form")
}
