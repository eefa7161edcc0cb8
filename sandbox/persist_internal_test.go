package sandbox

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWriteFileAtomicKeepsTheOldFileOnFailure interrupts a save half-way:
// the file keeps its previous content and no temporary file remains.
func TestWriteFileAtomicKeepsTheOldFileOnFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	require.NoError(t, writeFileAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, `{"good":true}`)
		return err
	}))

	crash := errors.New("crashed half-way")
	err := writeFileAtomic(path, func(w io.Writer) error {
		_, _ = io.WriteString(w, `{"partial":`)
		return crash
	})
	require.ErrorIs(t, err, crash)

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, `{"good":true}`, string(raw))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestWriteFileAtomicReplacesAWiderMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(path, []byte("{}"), 0o644))
	require.NoError(t, os.Chmod(path, 0o644))
	require.NoError(t, writeFileAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "{}")
		return err
	}))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}
