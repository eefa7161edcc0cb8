package sqlite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEmptyFileRefused: a state file of 0 bytes is a truncated or failed
// copy, not a new state; Open refuses it with advice and leaves it alone.
// A path with no file is a new state, created whole, leaving no temporary
// file behind.
func TestEmptyFileRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	_, err := Open(t.Context(), empty)
	require.ErrorIs(t, err, ErrEmptyFile)
	for _, advice := range []string{"backup", "delete it", "--adopt"} {
		require.Contains(t, err.Error(), advice)
	}
	fi, err := os.Stat(empty)
	require.NoError(t, err)
	require.Zero(t, fi.Size(), "the refused file is left as it was")

	fresh := filepath.Join(dir, "fresh.db")
	s, err := Open(t.Context(), fresh)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	fi, err = os.Stat(fresh)
	require.NoError(t, err)
	require.Positive(t, fi.Size(), "a new state file is never empty on disk")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.Contains(e.Name(), ".new-"), "temporary file %s left behind", e.Name())
	}
	s, err = Open(t.Context(), fresh)
	require.NoError(t, err, "the new file reopens")
	require.NoError(t, s.Close())
}
