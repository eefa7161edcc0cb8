package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/internal/atomicfile"
)

// TestWriteKeepsTheOldFileOnFailure interrupts a save half-way:
// the file keeps its previous content and no temporary file remains.
func TestWriteKeepsTheOldFileOnFailure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	require.NoError(t, atomicfile.Write(path, func(w io.Writer) error {
		_, err := io.WriteString(w, `{"good":true}`)
		return err
	}))

	crash := errors.New("crashed half-way")
	err := atomicfile.Write(path, func(w io.Writer) error {
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

func TestWriteReplacesAWiderMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(path, []byte("{}"), 0o644))
	require.NoError(t, os.Chmod(path, 0o644))
	require.NoError(t, atomicfile.Write(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "{}")
		return err
	}))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

// TestWriteCreatesTheDirectory writes below a directory that does not
// exist yet, as the file destination's first run and a new state path do.
func TestWriteCreatesTheDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a", "b", "state.json")
	require.NoError(t, atomicfile.Write(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "{}")
		return err
	}))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "{}", string(raw))
	info, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm())
}

// TestWriteFailsWhereNoDirectoryCanBe names a path below a regular file:
// the error says what failed and nothing is written.
func TestWriteFailsWhereNoDirectoryCanBe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	called := false
	err := atomicfile.Write(filepath.Join(file, "state.json"), func(io.Writer) error {
		called = true
		return nil
	})
	require.ErrorContains(t, err, "create directory")
	require.False(t, called)
}
