package sandbox

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
