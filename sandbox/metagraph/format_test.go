package metagraph

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/state.json from what Save writes")

// TestStateFileFormat keeps the replica's part of the sandbox state file
// as it is: a saved state loads, and saves again to the same bytes, so
// state files written by earlier versions keep loading.
func TestStateFileFormat(t *testing.T) {
	t.Parallel()
	golden := filepath.Join("testdata", "state.json")
	want, err := os.ReadFile(golden)
	require.NoError(t, err)

	s := New(Options{})
	require.NoError(t, s.Load(want))
	saved, err := s.Save()
	require.NoError(t, err)
	var got bytes.Buffer
	require.NoError(t, json.Indent(&got, saved, "", "  "))
	got.WriteByte('\n')
	if *updateGolden {
		require.NoError(t, os.WriteFile(golden, got.Bytes(), 0o644))
		return
	}
	require.JSONEq(t, string(want), got.String(), "every field survives a load and a save")
	require.Equal(t, string(want), got.String(), "fields in the same order and form")
}
