package sandbox

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// A background save waits saveDelay, or ten times what the last save
// took once saves get slow (a large state), at most maxSaveDelay; a save
// records its cost.
func TestSaveDelayFollowsSaveCost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cost, want time.Duration
	}{
		{0, saveDelay},
		{10 * time.Millisecond, saveDelay},
		{time.Second, 10 * time.Second},
		{time.Hour, maxSaveDelay},
	} {
		p := &persister{}
		p.cost.Store(int64(tc.cost))
		require.Equal(t, tc.want, p.delay(), "last save took %s", tc.cost)
	}
	s, err := Open(Options{StatePath: filepath.Join(t.TempDir(), "sandbox.json")})
	require.NoError(t, err)
	require.Positive(t, s.store.cost.Load(), "the first save's cost is recorded")
	require.NoError(t, s.Close())
}
